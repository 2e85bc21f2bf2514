// The recording (session.cast) to object storage. While the file grows, every
// sync interval the new complete lines become one immutable segment object
// (a retry writes the same key with the same bytes), and the receiver hears
// how much is durable. When the file has been idle long enough, and at
// shutdown, the whole file is uploaded as one object, byte-identical to the
// local file. Bytes uploaded over a session: the segments (the file up to the
// last sync before shutdown) plus the final object (the whole file), plus the
// whole file again per idle period that is followed by more recording.

import type { ObjectStore } from '../../shared/object-store.js';
import {
  contiguousSegments, GENERATION_METADATA, generationFinalKey, primaryFinalKey, s3Url, segmentKey, segmentsPrefix, workspacePrefix,
} from '../../shared/recording-keys.js';
import { CONTENT_TYPES, HEADERS, PATHS, type RecordingReport } from '../../shared/wire.js';
import type { ShipperEvents } from '../events.js';
import { retryWithBackoff, sleep } from '../ship/backoff.js';
import type { RetryingTransport } from '../ship/retrying-transport.js';
import type { CheckpointStore } from '../tail/checkpoint-store.js';
import { openSource, type SourceFile } from '../tail/source-file.js';

/** A segment holds at most this many bytes (more complete lines make more segments). */
export const SEGMENT_MAX_BYTES = 64 * 1024 * 1024;
const CHECKPOINT_KEY = 'recording';
const TAIL_SCAN_BYTES = 64 * 1024;

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
  store: ObjectStore;
  transport: RetryingTransport;
  checkpoints: CheckpointStore;
  events: ShipperEvents;
  syncIntervalMs: number;
  idleMs: number;
  retryMaxDelayMs: number;
}

export interface RecordingPipeline {
  run(signal: AbortSignal): Promise<void>;
  /** Sync what is there, upload the whole file, then stop. */
  drain(): void;
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

  async function retried<T>(stage: 'list' | 'segment' | 'final' | 'abort', signal: AbortSignal, op: () => Promise<T>): Promise<T | 'aborted'> {
    return retryWithBackoff(op, { signal, maxDelayMs: d.retryMaxDelayMs, onFailedAttempt: ({ error, attemptNumber }) => events.onRecordingFailed(stage, attemptNumber, error) });
  }

  function save(p: RecordingPosition): void {
    position = p;
    d.checkpoints.setExtra(CHECKPOINT_KEY, p);
  }

  /** Tells the receiver how much is durable; recording_refs never moves back, so resending is harmless. */
  async function report(storagePath: string, lastSyncByte: number, signal: AbortSignal): Promise<void> {
    const body: RecordingReport = { storage_path: storagePath, last_sync_byte: lastSyncByte };
    await d.transport.deliver({ path: PATHS.recordings, contentType: CONTENT_TYPES.json, headers: { [HEADERS.workspaceId]: d.workspaceId }, body: JSON.stringify(body) }, signal, (f) => events.onAttemptFailed('recording', f));
  }

  /** Multipart uploads a killed predecessor left open are ours to abort. */
  async function abortDangling(signal: AbortSignal): Promise<void> {
    const uploads = await retried('list', signal, () => store.listUploads(workspacePrefix(d.workspaceId)));
    if (uploads === 'aborted') return;
    for (const u of uploads) {
      if ((await retried('abort', signal, () => store.abortUpload(u.key, u.uploadId))) !== 'aborted') events.onDanglingUploadAborted(u.key, u.uploadId);
    }
  }

  /** Object storage says how much of a generation is durable: the segments that cover it from byte 0. */
  async function enterGeneration(src: SourceFile, reason: 'resumed' | 'truncated' | 'rewritten' | 'replaced', signal: AbortSignal): Promise<boolean> {
    const saved = d.checkpoints.getExtra<RecordingPosition>(CHECKPOINT_KEY);
    const n = truncations ?? (saved && src.generation(saved.truncations) === saved.generation ? saved.truncations : 0);
    const generation = src.generation(n);
    const keys = await retried('list', signal, () => store.list(segmentsPrefix(d.workspaceId, generation)));
    if (keys === 'aborted') return false;
    const synced = contiguousSegments(keys).at(-1)?.end ?? 0;
    const known = saved?.generation === generation;
    save({ generation, truncations: n, synced, finalized: known ? saved.finalized : undefined });
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
      if ((await retried('segment', signal, () => store.upload(key, { source: src, start, size: segEnd - start }, {}, events, signal))) === 'aborted') return;
      events.onRecordingSegment(key, segEnd - start, (performance.now() - began) / 1000);
      save({ ...position!, synced: segEnd });
      await report(s3Url(store.bucket, segmentsPrefix(d.workspaceId, position!.generation)), segEnd, signal);
    }
  }

  /** The first generation owns session.cast; later ones get their own key, so none overwrites another. */
  async function finalKey(generation: string, signal: AbortSignal): Promise<string | 'aborted'> {
    const primary = primaryFinalKey(d.workspaceId);
    const meta = await retried('list', signal, () => store.metadata(primary));
    if (meta === 'aborted') return meta;
    return meta === undefined || meta[GENERATION_METADATA] === generation ? primary : generationFinalKey(d.workspaceId, generation);
  }

  async function finalize(src: SourceFile, signal: AbortSignal): Promise<void> {
    const size = await src.size();
    const p = position!;
    if (size === 0 || p.finalized?.size === size) return;
    const key = await finalKey(p.generation, signal);
    if (key === 'aborted') return;
    const began = performance.now();
    const done = await retried('final', signal, () => store.upload(key, { source: src, start: 0, size }, { [GENERATION_METADATA]: p.generation }, events, signal));
    if (done === 'aborted') return;
    events.onRecordingFinal(key, size, (performance.now() - began) / 1000);
    save({ ...position!, finalized: { size, key } });
    await d.checkpoints.flush();
    await report(s3Url(store.bucket, key), size, signal);
  }

  async function syncOnce(signal: AbortSignal): Promise<void> {
    if (!source) {
      source = await openSource(d.path);
      if (!source) return;
    }
    if (!position) {
      if (!(await source.identify())) return;
      if (!(await enterGeneration(source, nextReason, signal))) return;
    }
    const size = await source.size();
    const shorter = size < position!.synced;
    if (shorter || (await source.rewritten())) {
      nextReason = shorter ? 'truncated' : 'rewritten';
      truncations = position!.truncations + 1;
      position = undefined;
      source.forgetIdentity();
      lastSize = -1;
      return syncOnce(signal);
    }
    if (size !== lastSize) {
      lastSize = size;
      lastGrowth = performance.now();
    }
    // At shutdown the whole object makes the tail durable: a last segment would upload it twice.
    if (!draining) await uploadSegments(source, await completeEnd(source, position!.synced, size), signal);
    events.onRecordingLag(size - position!.synced);
    const idle = performance.now() - lastGrowth >= d.idleMs;
    if (idle || draining) await finalize(source, signal);
    if (!draining && (await source.pathState()) === 'replaced') {
      // The old file is read to its end and uploaded whole before the new one starts.
      await finalize(source, signal);
      await source.close();
      source = undefined;
      position = undefined;
      lastSize = -1;
      nextReason = 'replaced';
    }
  }

  return {
    async run(signal) {
      await abortDangling(signal);
      while (!signal.aborted) {
        await syncOnce(signal);
        if (draining) break;
        await new Promise<void>((resolve) => {
          wake = resolve;
          void sleep(d.syncIntervalMs, signal).then(resolve);
        });
        wake = undefined;
      }
      await source?.close().catch(() => undefined);
    },
    drain() {
      draining = true;
      wake?.();
    },
  };
}
