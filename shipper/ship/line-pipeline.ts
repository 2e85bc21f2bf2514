// One JSONL file, shipped: tail → frame → batch → deliver → checkpoint, with
// one request in flight. A batch is the byte range of complete lines from the
// committed offset, up to the batch limits; when the reader has caught up, what
// there is goes at once, so an idle pipeline has low latency and a busy one big
// batches. The file is the buffer: nothing is read ahead of delivery.

import type { PipelineDef } from '../config.js';
import type { ShipperEvents } from '../events.js';
import type { CheckpointStore, FilePosition } from '../tail/checkpoint-store.js';
import { fileErrorCode } from '../tail/file-errors.js';
import { frameLines, readWindow, type FrameLimits } from '../tail/framer.js';
import { enterGeneration, generationEnded } from '../tail/generation.js';
import { openSource, type SourceFile } from '../tail/source-file.js';
import type { WakeReason, Wakeup } from '../tail/watcher.js';
import { backoffDelayMs } from './backoff.js';
import { committedOffset, committedSources } from './offsets-client.js';
import { nativeRequest, vectorRequest, type BatchRef } from './request-body.js';
import type { RetryingTransport } from './retrying-transport.js';
import { ANSWER_KEYS, CONTENT_TYPES, HEADERS, PATHS, type RejectReport } from '../../shared/wire.js';

/** Bytes of an over-long line sent to the receiver with its reject. */
export const REJECT_PREFIX_BYTES = 1024;

export interface LinePipelineDeps {
  def: PipelineDef;
  path: string;
  limits: FrameLimits;
  workspaceId: string;
  format: { kind: 'native' } | { kind: 'vector'; host: string };
  gzip: boolean;
  transport: RetryingTransport;
  checkpoints: CheckpointStore;
  wakeup: Wakeup;
  events: ShipperEvents;
  /** Cap of the backoff between attempts at a file that cannot be read. */
  retryMaxDelayMs: number;
}

export interface LinePipeline {
  readonly name: string;
  /** Ships until drained (after drain()) or until the signal aborts; resolves true when nothing was left. */
  run(signal: AbortSignal): Promise<boolean>;
  /** Ship what is there, then stop. */
  drain(): void;
  lagBytes(): number;
}

type Step = 'progress' | 'idle';

/** Reads below this size get a buffer of their own; larger ones go through the pipeline's window. */
const SMALL_READ_BYTES = 64 * 1024;

export function createLinePipeline(d: LinePipelineDeps): LinePipeline {
  const { def, events } = d;
  const windowBytes = readWindow(d.limits);
  /** The full read window, held while reads are sizeable (readBuffer). */
  let window: Buffer | undefined;
  let source: SourceFile | undefined;
  let position: FilePosition | undefined;
  /** Set after a truncation: the next generation of this inode. */
  let truncations: number | undefined;
  /** An over-long line being skipped: where it starts, how far its newline was searched. */
  let tooLong: { start: number; scannedTo: number } | undefined;
  let draining = false;
  let lag = 0;
  let unshippedSince: number | undefined;
  let partialBytes = 0;

  function noteLag(bytes: number): void {
    lag = bytes;
    if (bytes === 0) unshippedSince = undefined;
    else unshippedSince ??= Date.now();
    events.onLag(def.name, lag, unshippedSince);
  }

  /** Waits `ms`, or less when the pipeline is drained or stopped. */
  async function pause(ms: number, signal: AbortSignal): Promise<void> {
    const until = performance.now() + ms;
    while (!draining && !signal.aborted && performance.now() < until) await d.wakeup.wait(until - performance.now());
  }

  function advance(offset: number): void {
    position = { ...position!, offset };
    d.checkpoints.set(def.name, position);
  }

  /** Closes the file; a truncation seen and not yet entered stays pending (it names the next generation of this inode). */
  async function forgetSource(): Promise<void> {
    await source?.close().catch(() => undefined);
    source = undefined;
    position = undefined;
    tooLong = undefined;
  }

  async function enter(src: SourceFile, signal: AbortSignal): Promise<boolean> {
    const saved = d.checkpoints.get(def.name);
    // The receiver knows which generations of this stream it holds; Vector-era receivers cannot say.
    const held = d.format.kind === 'native'
      ? () => committedSources(d.transport, d.workspaceId, def.stream, signal, (f) => events.onAttemptFailed(def.name, f))
      : undefined;
    const entered = await enterGeneration(src, truncations, saved, held);
    if (!entered) return false;
    const { generation, known } = entered;
    let offset: number;
    if (d.format.kind === 'vector') {
      // Vector-era receivers have no offsets endpoint: the checkpoint is all there is.
      offset = known ? saved!.offset : 0;
      events.onResumed(def.name, generation, offset, known ? 'checkpoint' : 'new_generation');
    } else {
      const committed = await committedOffset(d.transport, d.workspaceId, def.stream, generation, signal, (f) => events.onAttemptFailed(def.name, f));
      if (committed === undefined) return false;
      offset = committed;
      events.onResumed(def.name, generation, offset, 'receiver');
    }
    position = { generation, offset, truncations: entered.truncations };
    truncations = undefined;
    d.checkpoints.set(def.name, position);
    // A new generation is durable before any of it ships, so a restart names it the same way.
    if (!known) await d.checkpoints.flush();
    return true;
  }

  async function deliverBatch(bytes: Buffer, lines: number, signal: AbortSignal): Promise<Step> {
    const ref: BatchRef = { stream: def.stream, workspaceId: d.workspaceId, generation: position!.generation, offset: position!.offset, bytes };
    const out = d.format.kind === 'native' ? await nativeRequest(ref, d.gzip) : await vectorRequest(ref, d.path, d.format.host, d.gzip);
    const started = performance.now();
    const result = await d.transport.deliver(out, signal, (f) => events.onAttemptFailed(def.name, f));
    if (result.status === 'aborted') return 'idle';
    if (result.status === 'gap') {
      events.onOffsetGap(def.name, position!.offset, result.nextOffset);
      advance(result.nextOffset);
      return 'progress';
    }
    const end = position!.offset + bytes.length;
    const next = typeof result.answer.next_offset === 'number' ? Math.max(end, result.answer.next_offset) : end;
    advance(next);
    events.onBatchDelivered(def.name, lines, bytes.length, (performance.now() - started) / 1000, result.answer);
    return 'progress';
  }

  /**
   * A buffer for a read of the `available` bytes. Anything sizeable is read
   * through one full window, reused read after read; a pipeline that is
   * nearly caught up reads what is there into a buffer of that size and lets
   * the window go, so that after one catch-up a sidecar does not hold three
   * 4 MiB windows for the rest of its life.
   */
  function readBuffer(available: number): Buffer {
    if (available >= Math.min(SMALL_READ_BYTES, windowBytes)) return (window ??= Buffer.allocUnsafe(windowBytes));
    window = undefined;
    return Buffer.allocUnsafe(available);
  }

  /** Looks for the newline of an over-long line without holding it; reports it once found. */
  async function skipTooLong(size: number, signal: AbortSignal): Promise<Step> {
    const scan = tooLong!;
    const buf = readBuffer(size - scan.scannedTo);
    const n = await source!.read(buf, Math.min(buf.length, size - scan.scannedTo), scan.scannedTo);
    const nl = buf.subarray(0, n).indexOf(0x0a);
    if (nl === -1) {
      scan.scannedTo += n;
      if (n > 0) return 'progress';
      // Scanned to the end without a newline: the line is still being written, or the file was replaced.
      partialBytes = size - scan.start;
      return atEnd();
    }
    const end = scan.scannedTo + nl + 1;
    const prefix = Buffer.alloc(REJECT_PREFIX_BYTES);
    const prefixLength = await source!.read(prefix, REJECT_PREFIX_BYTES, scan.start);
    if (await source!.rewritten()) return leaveGeneration('rewritten');
    const report: RejectReport = {
      stream: def.stream, source_id: position!.generation, offset: scan.start, length: end - scan.start,
      reason: 'line_too_long', prefix_base64: prefix.subarray(0, prefixLength).toString('base64'),
    };
    events.onLineTooLong(def.name, scan.start, end - scan.start);
    if (d.format.kind === 'vector') {
      // Vector-era receivers know no rejects endpoint; the line is logged and skipped.
      tooLong = undefined;
      advance(end);
      return 'progress';
    }
    const result = await d.transport.deliver({
      path: PATHS.rejects, contentType: CONTENT_TYPES.json, headers: { [HEADERS.workspaceId]: d.workspaceId }, body: JSON.stringify(report), answerKey: ANSWER_KEYS.rejects,
    }, signal, (f) => events.onAttemptFailed(def.name, f));
    if (result.status === 'aborted') return 'idle';
    tooLong = undefined;
    if (result.status === 'gap') {
      events.onOffsetGap(def.name, scan.start, result.nextOffset);
      advance(result.nextOffset);
    } else {
      advance(end);
    }
    return 'progress';
  }

  /** The file is no longer the generation being shipped: the next generation of this inode starts. */
  function leaveGeneration(reason: 'truncated' | 'rewritten'): Step {
    events.onNewGeneration(def.name, position!.generation, reason);
    truncations = position!.truncations + 1;
    position = undefined;
    tooLong = undefined;
    source!.forgetIdentity();
    return 'progress';
  }

  /** The current file has nothing more to give: move to its replacement if there is one. */
  async function atEnd(): Promise<Step> {
    if ((await source!.pathState()) !== 'replaced') return 'idle';
    if (partialBytes > 0) events.onPartialLineLeft(def.name, partialBytes);
    await forgetSource();
    return 'progress';
  }

  async function step(signal: AbortSignal): Promise<Step> {
    if (!source) {
      source = await openSource(d.path);
      if (!source) {
        noteLag(0);
        return 'idle';
      }
      events.onFileOpened(def.name, d.path);
    }
    if (!position) {
      if (!(await source.identify())) return atEnd();
      // Until the receiver says where it is committed, all of the file counts as unshipped.
      noteLag(await source.size());
      return (await enter(source, signal)) ? 'progress' : 'idle';
    }
    const size = await source.size();
    // An over-long line cut below the point its scan reached is framed again from its start.
    if (tooLong && size < tooLong.scannedTo) tooLong = undefined;
    // Bytes read are vouched for by the first line read after them (below); with nothing to read, a rewrite
    // to a size not smaller shows only in the first line, looked at here, once per wake.
    const ended = await generationEnded(source, size, position.offset, size <= (tooLong?.scannedTo ?? position.offset));
    if (ended) return leaveGeneration(ended);
    noteLag(size - position.offset);
    if (tooLong) return skipTooLong(size, signal);
    partialBytes = 0;
    if (size === position.offset) return atEnd();

    const buf = readBuffer(size - position.offset);
    const n = await source.read(buf, Math.min(buf.length, size - position.offset), position.offset);
    // A truncation and regrowth between the size and the read would pass the new content off as the old
    // generation's: the first line, read after the bytes, vouches for them.
    if (await source.rewritten()) return leaveGeneration('rewritten');
    const frame = frameLines(buf, n, d.limits);
    if (frame.kind === 'too_long') {
      // Scanned from the line's start: its newline may be inside this window, with lines after it.
      tooLong = { start: position.offset, scannedTo: position.offset };
      return 'progress';
    }
    if (frame.kind === 'partial') {
      partialBytes = n;
      return atEnd();
    }
    return deliverBatch(buf.subarray(0, frame.bytes), frame.lines, signal);
  }

  return {
    name: def.name,
    async run(signal) {
      const onAbort = () => d.wakeup.wake();
      signal.addEventListener('abort', onAbort, { once: true });
      /** Attempts in a row that failed on the file (EACCES, EISDIR, EIO...). */
      let failures = 0;
      /** Why the last wait ended, until the step after it. */
      let woke: WakeReason | undefined;
      try {
        while (!signal.aborted) {
          const closing = draining;
          const why = woke;
          woke = undefined;
          let next: Step;
          try {
            next = await step(signal);
          } catch (err) {
            // The file's trouble stays the file's: counted, logged once per change, tried again later.
            failures++;
            events.onFileError(def.name, d.path, fileErrorCode(err), err);
            await forgetSource();
            // At shutdown the file gets one attempt that started after the drain did.
            if (closing) break;
            if (!draining) await pause(backoffDelayMs(failures, d.retryMaxDelayMs), signal);
            continue;
          }
          if (failures > 0) events.onFileRecovered(def.name, d.path);
          failures = 0;
          // Something had changed, and no notification said so.
          if (why === 'poll' && next === 'progress') d.wakeup.changedUnannounced();
          if (next === 'progress') continue;
          if (draining) break;
          woke = await d.wakeup.wait();
        }
      } finally {
        signal.removeEventListener('abort', onAbort);
        if (draining && partialBytes > 0) events.onPartialLineLeft(def.name, partialBytes);
        events.onDrained(def.name, !signal.aborted && failures === 0, lag);
        await source?.close().catch(() => undefined);
      }
      return !signal.aborted && failures === 0;
    },
    drain() {
      draining = true;
      d.wakeup.wake();
    },
    lagBytes: () => lag,
  };
}
