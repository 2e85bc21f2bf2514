// The recording (session.cast) to object storage. While the file grows, every
// sync interval the new complete lines become one immutable segment object
// (a retry writes the same key with the same bytes), and the receiver hears
// how much is durable. When the file has been idle long enough, and at
// shutdown, the whole file is uploaded as one object, byte-identical to the
// local file; at shutdown the bytes since the last sync first become a last
// segment, so the segments hold every byte even if the whole object misses
// the drain deadline. Bytes uploaded over a session: the segments (the whole
// file) plus the final object (the whole file), plus the whole file again per
// idle period that is followed by more recording.

import { SOURCE_CHANGED, SourceError, type PositionalSource } from '../../shared/file-upload.js';
import type { RecordingStore } from '../../shared/object-store.js';
import {
  contiguousSegments, folderGeneration, GENERATION_METADATA, generationFinalKey, primaryFinalKey, s3Url, segmentKey, segmentsPrefix, segmentsRoot,
  workspacePrefix,
} from '../../shared/recording-keys.js';
import { ANSWER_KEYS, CONTENT_TYPES, HEADERS, PATHS, type RecordingReport } from '../../shared/wire.js';
import type { RecordingStage, ShipperEvents } from '../events.js';
import { backoffDelayMs, retryWithBackoff, sleep } from '../ship/backoff.js';
import type { RetryingTransport } from '../ship/retrying-transport.js';
import type { CheckpointStore } from '../tail/checkpoint-store.js';
import { fileErrorCode } from '../tail/file-errors.js';
import { enterGeneration, generationEnded } from '../tail/generation.js';
import { openSource, type SourceFile } from '../tail/source-file.js';
import type { WakeReason, Wakeup } from '../tail/watcher.js';
import { s3FailureKind } from './s3-failures.js';

/** A segment holds at most this many bytes (more complete lines make more segments). */
export const SEGMENT_MAX_BYTES = 64 * 1024 * 1024;
const CHECKPOINT_KEY = 'recording';
const TAIL_SCAN_BYTES = 64 * 1024;
/** Calls the recording can do without: a store that lacks them (or forbids them) is skipped, not retried. */
const HOUSEKEEPING: ReadonlySet<RecordingStage> = new Set(['list_uploads', 'abort']);

/** A housekeeping call the store does not offer. */
class Unsupported extends Error {
  constructor(readonly failure: unknown) {
    super('unsupported');
  }
}

/** What the checkpoint keeps about the recording. */
interface RecordingPosition {
  generation: string;
  truncations: number;
  /** Bytes durable as segments: [0, synced). */
  synced: number;
  /** The last whole-file upload of this generation. */
  finalized?: { size: number; key: string };
}

export interface RecordingPipelineDeps {
  path: string;
  workspaceId: string;
  store: RecordingStore;
  transport: RetryingTransport;
  checkpoints: CheckpointStore;
  events: ShipperEvents;
  /** Wakes the pipeline when the file changes; between changes it sleeps. */
  wakeup: Wakeup;
  syncIntervalMs: number;
  idleMs: number;
  retryMaxDelayMs: number;
  /** Wait before retrying after a configuration fault (NoSuchBucket, AccessDenied...). */
  refusedRetryDelayMs: number;
}

export interface RecordingPipeline {
  /** Resolves true when everything was uploaded (after drain()), false when stopped with bytes left. */
  run(signal: AbortSignal): Promise<boolean>;
  /** Sync what is there, upload the whole file, then stop. */
  drain(): void;
  /** Bytes of the file not yet durable as segments, as last seen. */
  unsyncedBytes(): number;
}

export function createRecordingPipeline(d: RecordingPipelineDeps): RecordingPipeline {
  const { events, store } = d;
  let source: SourceFile | undefined;
  let position: RecordingPosition | undefined;
  let truncations: number | undefined;
  let nextReason: 'resumed' | 'truncated' | 'rewritten' | 'replaced' = 'resumed';
  let draining = false;
  let wake: (() => void) | undefined;
  let lastSize = -1;
  let lastGrowth = performance.now();
  let unsynced = 0;

  /**
   * An S3 call, retried: transient failures with backoff, configuration
   * faults slowly (and loudly, through the events). A failure of the file
   * being uploaded ends the retries (the caller looks at the file again), and
   * so does a housekeeping call the store does not offer (Unsupported).
   */
  function retried<T>(stage: RecordingStage, signal: AbortSignal, op: () => Promise<T>): Promise<T | 'aborted'> {
    const kind = (error: unknown) => s3FailureKind(error, HOUSEKEEPING.has(stage));
    return retryWithBackoff(op, {
      signal,
      maxDelayMs: d.retryMaxDelayMs,
      onFailedAttempt: async ({ error, attemptNumber }) => {
        if (error instanceof SourceError) throw error;
        const k = kind(error);
        if (k === 'unsupported') throw new Unsupported(error);
        const waitMs = k === 'configuration' ? d.refusedRetryDelayMs : undefined;
        events.onRecordingFailed(stage, k, attemptNumber, error, waitMs);
        if (waitMs !== undefined) await sleep(waitMs, signal);
      },
      // A configuration fault waited above; it does not grow the backoff.
      shouldConsumeRetry: ({ error }) => kind(error) === 'transient',
    });
  }

  /** A housekeeping call: `skipped` when the store does not offer it. */
  async function housekeeping<T>(stage: RecordingStage, signal: AbortSignal, op: () => Promise<T>): Promise<T | 'aborted' | 'skipped'> {
    try {
      return await retried(stage, signal, op);
    } catch (err) {
      if (!(err instanceof Unsupported)) throw err;
      events.onRecordingCallUnsupported(stage, err.failure);
      return 'skipped';
    }
  }

  function save(p: RecordingPosition): void {
    position = p;
    d.checkpoints.setExtra(CHECKPOINT_KEY, p);
  }

  /** Tells the receiver how much is durable; recording_refs never moves back, so resending is harmless. */
  async function report(storagePath: string, lastSyncByte: number, signal: AbortSignal): Promise<void> {
    const body: RecordingReport = { storage_path: storagePath, last_sync_byte: lastSyncByte };
    await d.transport.deliver({
      path: PATHS.recordings, contentType: CONTENT_TYPES.json, headers: { [HEADERS.workspaceId]: d.workspaceId }, body: JSON.stringify(body), answerKey: ANSWER_KEYS.recordings,
    }, signal, (f) => events.onAttemptFailed('recording', f));
  }

  /**
   * Multipart uploads a killed predecessor left open are ours to abort. This
   * is housekeeping: a store without the calls gets the bucket's lifecycle
   * rule instead (README), and the recording goes on.
   */
  async function abortDangling(signal: AbortSignal): Promise<void> {
    const uploads = await housekeeping('list_uploads', signal, () => store.listUploads(workspacePrefix(d.workspaceId)));
    if (uploads === 'aborted' || uploads === 'skipped') return;
    for (const u of uploads) {
      const done = await housekeeping('abort', signal, () => store.abortUpload(u.key, u.uploadId));
      if (done === 'aborted' || done === 'skipped') return;
      events.onDanglingUploadAborted(u.key, u.uploadId);
    }
  }

  /**
   * The generation, chosen as the JSONL pipelines choose theirs (the bucket's
   * segment folders say which generations exist); the bucket then says how
   * much of it is durable: the segments that cover it from byte 0.
   */
  async function enter(src: SourceFile, reason: 'resumed' | 'truncated' | 'rewritten' | 'replaced', signal: AbortSignal): Promise<boolean> {
    const saved = d.checkpoints.getExtra<RecordingPosition>(CHECKPOINT_KEY);
    const entered = await enterGeneration(src, truncations, saved, async () => {
      const folders = await retried('list', signal, () => store.folders(segmentsRoot(d.workspaceId)));
      return folders === 'aborted' ? undefined : folders.map(folderGeneration);
    });
    if (!entered) return false;
    const { generation, known } = entered;
    const keys = await retried('list', signal, () => store.list(segmentsPrefix(d.workspaceId, generation)));
    if (keys === 'aborted') return false;
    const synced = contiguousSegments(keys).at(-1)?.end ?? 0;
    save({ generation, truncations: entered.truncations, synced, finalized: known ? saved!.finalized : undefined });
    truncations = undefined;
    if (!known) await d.checkpoints.flush();
    events.onRecordingGeneration(generation, synced, reason);
    return true;
  }

  /** End of the last complete line in [from, size), found by scanning back from the end. */
  async function completeEnd(src: SourceFile, from: number, size: number): Promise<number> {
    const buf = Buffer.allocUnsafe(TAIL_SCAN_BYTES);
    for (let stop = size; stop > from;) {
      const start = Math.max(from, stop - TAIL_SCAN_BYTES);
      const n = await src.read(buf, stop - start, start);
      const nl = buf.subarray(0, n).lastIndexOf(0x0a);
      if (nl !== -1) return start + nl + 1;
      stop = start;
    }
    return from;
  }

  /** End of the line that runs past `from` (there is one: `limit` ends a line). */
  async function lineEndAfter(src: SourceFile, from: number, limit: number): Promise<number> {
    const buf = Buffer.allocUnsafe(TAIL_SCAN_BYTES);
    for (let at = from; at < limit; at += TAIL_SCAN_BYTES) {
      const n = await src.read(buf, Math.min(TAIL_SCAN_BYTES, limit - at), at);
      const nl = buf.subarray(0, n).indexOf(0x0a);
      if (nl !== -1) return at + nl + 1;
    }
    return limit;
  }

  /**
   * The file's bytes for an upload, each read vouched for by the first line
   * read after it: a rewrite in place fails the upload (SOURCE_CHANGED)
   * instead of storing the new content under the old generation.
   */
  function vouched(src: SourceFile): PositionalSource {
    return {
      async read(into, length, at) {
        const n = await src.read(into, length, at);
        if (await src.rewritten()) throw new SourceError('the file was rewritten during the upload', SOURCE_CHANGED);
        return n;
      },
    };
  }

  /** Segments [synced, end), each at most SEGMENT_MAX_BYTES unless one line is longer. */
  async function uploadSegments(src: SourceFile, end: number, signal: AbortSignal): Promise<void> {
    while (position!.synced < end && !signal.aborted) {
      const start = position!.synced;
      let segEnd = end;
      if (end - start > SEGMENT_MAX_BYTES) {
        segEnd = await completeEnd(src, start, start + SEGMENT_MAX_BYTES);
        if (segEnd === start) segEnd = await lineEndAfter(src, start + SEGMENT_MAX_BYTES, end);
      }
      const key = segmentKey(d.workspaceId, position!.generation, start, segEnd);
      const began = performance.now();
      if ((await retried('segment', signal, () => store.upload(key, { source: vouched(src), start, size: segEnd - start }, {}, events, signal))) === 'aborted') return;
      events.onRecordingSegment(key, segEnd - start, (performance.now() - began) / 1000);
      save({ ...position!, synced: segEnd });
      await report(s3Url(store.bucket, segmentsPrefix(d.workspaceId, position!.generation)), segEnd, signal);
    }
  }

  /** The first generation owns session.cast; later ones get their own key, so none overwrites another. */
  async function finalKey(generation: string, signal: AbortSignal): Promise<string | 'aborted'> {
    const primary = primaryFinalKey(d.workspaceId);
    const head = await retried('list', signal, () => store.head(primary));
    if (head === 'aborted') return head;
    return head === undefined || head.metadata[GENERATION_METADATA] === generation ? primary : generationFinalKey(d.workspaceId, generation);
  }

  async function finalize(src: SourceFile, signal: AbortSignal): Promise<void> {
    const size = await src.size();
    const p = position!;
    if (size === 0 || p.finalized?.size === size) return;
    const key = await finalKey(p.generation, signal);
    if (key === 'aborted') return;
    const began = performance.now();
    const done = await retried('final', signal, () => store.upload(key, { source: vouched(src), start: 0, size }, { [GENERATION_METADATA]: p.generation }, events, signal));
    if (done === 'aborted') return;
    events.onRecordingFinal(key, size, (performance.now() - began) / 1000);
    save({ ...position!, finalized: { size, key } });
    await d.checkpoints.flush();
    await report(s3Url(store.bucket, key), size, signal);
  }

  /** One sync; `closing`: the last one, at shutdown. */
  async function syncOnce(signal: AbortSignal, closing: boolean): Promise<void> {
    if (!source) {
      source = await openSource(d.path);
      if (!source) return;
    }
    if (!position) {
      if (!(await source.identify())) return;
      if (!(await enter(source, nextReason, signal))) return;
    }
    const size = await source.size();
    const ended = await generationEnded(source, size, position!.synced, true);
    if (ended) {
      nextReason = ended;
      truncations = position!.truncations + 1;
      position = undefined;
      source.forgetIdentity();
      lastSize = -1;
      return syncOnce(signal, closing);
    }
    if (size !== lastSize) {
      lastSize = size;
      lastGrowth = performance.now();
    }
    // At shutdown every byte becomes a segment (a last line without its
    // newline too) before the whole object starts: if that misses the
    // deadline, the segments still hold the file.
    await uploadSegments(source, closing ? size : await completeEnd(source, position!.synced, size), signal);
    unsynced = size - position!.synced;
    events.onRecordingLag(unsynced);
    const idle = performance.now() - lastGrowth >= d.idleMs;
    if (idle || closing) await finalize(source, signal);
    if (!closing && (await source.pathState()) === 'replaced') {
      // The old file is read to its end and uploaded whole before the new one starts.
      await finalize(source, signal);
      await forget();
      nextReason = 'replaced';
    }
  }

  /** Closes the file; a truncation seen and not yet entered stays pending. */
  async function forget(): Promise<void> {
    await source?.close().catch(() => undefined);
    source = undefined;
    position = undefined;
    lastSize = -1;
  }

  async function pause(ms: number, signal: AbortSignal): Promise<void> {
    await new Promise<void>((resolve) => {
      wake = resolve;
      void sleep(ms, signal).then(resolve);
    });
    wake = undefined;
  }

  /** Until the file changes, or until the whole-file upload is due (the file has not grown for idleMs). */
  function untilChanged(): Promise<WakeReason> {
    const unfinalized = lastSize > 0 && position !== undefined && position.finalized?.size !== lastSize;
    return d.wakeup.wait(unfinalized ? Math.max(0, lastGrowth + d.idleMs - performance.now()) : undefined);
  }

  return {
    async run(signal) {
      let housekept = false;
      /** Attempts in a row that failed on the file (EACCES, EISDIR, EIO...). */
      let failures = 0;
      /** Why the last wait ended, until the sync after it. */
      let woke: WakeReason | undefined;
      const onAbort = () => d.wakeup.wake();
      signal.addEventListener('abort', onAbort, { once: true });
      while (!signal.aborted) {
        const closing = draining;
        const why = woke;
        woke = undefined;
        try {
          if (!housekept) await abortDangling(signal);
          housekept = true;
          const grown = lastGrowth;
          await syncOnce(signal, closing);
          if (failures > 0) events.onFileRecovered('recording', d.path);
          failures = 0;
          // The file had grown, and no notification said so.
          if (why === 'poll' && lastGrowth !== grown) d.wakeup.changedUnannounced();
        } catch (err) {
          // A file truncated or rewritten during an upload: the next sync sees what it is now.
          if (err instanceof SourceError && err.code === SOURCE_CHANGED) continue;
          // The file's trouble stays the file's: counted, logged once per change, tried again later.
          failures++;
          events.onFileError('recording', d.path, fileErrorCode(err), err);
          await forget();
          // At shutdown the file gets one attempt that started after the drain did.
          if (closing) break;
          if (!draining) await pause(backoffDelayMs(failures, d.retryMaxDelayMs), signal);
          continue;
        }
        if (closing) break;
        // At most one sync per interval, and none while the file does not change.
        if (!draining) await pause(d.syncIntervalMs, signal);
        if (!draining) woke = await untilChanged();
      }
      signal.removeEventListener('abort', onAbort);
      await source?.close().catch(() => undefined);
      return !signal.aborted && failures === 0;
    },
    drain() {
      draining = true;
      wake?.();
      d.wakeup.wake();
    },
    unsyncedBytes: () => unsynced,
  };
}
