// GET /ingest/offsets: where the receiver has committed a stream. The receiver
// is the authority on what it holds, so a pipeline asks it (through the same
// retries as deliveries) whenever it enters a file generation.

import { ANSWER_KEYS, PATHS, type LineStream, type OffsetsResponse, type StreamOffset } from '../../shared/wire.js';
import type { FailedAttempt, RetryingTransport } from './retrying-transport.js';

/** The stream's committed offsets (one per generation, or the one asked for), or undefined when aborted. */
async function offsets(
  transport: RetryingTransport, query: Record<string, string>, stream: LineStream, signal: AbortSignal, onFailed: (f: FailedAttempt) => void,
): Promise<StreamOffset[] | undefined> {
  const path = `${PATHS.offsets}?${new URLSearchParams(query)}`;
  const result = await transport.deliver({ method: 'GET', path, headers: {}, answerKey: ANSWER_KEYS.offsets }, signal, onFailed);
  if (result.status !== 'delivered') return undefined;
  return ((result.answer as unknown as OffsetsResponse).offsets ?? []).filter((o) => o.stream === stream);
}

/** The generations (source ids) the receiver holds for a stream, or undefined when aborted. */
export async function committedSources(
  transport: RetryingTransport, workspaceId: string, stream: LineStream, signal: AbortSignal, onFailed: (f: FailedAttempt) => void,
): Promise<string[] | undefined> {
  return (await offsets(transport, { workspace_id: workspaceId, stream }, stream, signal, onFailed))?.map((o) => o.source_id);
}

/** The committed offset (0 for a stream the receiver has never seen), or undefined when aborted. */
export async function committedOffset(
  transport: RetryingTransport, workspaceId: string, stream: LineStream, sourceId: string, signal: AbortSignal, onFailed: (f: FailedAttempt) => void,
): Promise<number | undefined> {
  const held = await offsets(transport, { workspace_id: workspaceId, stream, source_id: sourceId }, stream, signal, onFailed);
  return held && (held.find((o) => o.source_id === sourceId)?.next_offset ?? 0);
}
