// GET /ingest/offsets: where the receiver has committed a stream. The receiver
// is the authority on what it holds, so a pipeline asks it (through the same
// retries as deliveries) whenever it enters a file generation.

import { PATHS, type LineStream, type OffsetsResponse } from '../../shared/wire.js';
import type { FailedAttempt, RetryingTransport } from './retrying-transport.js';

/** The generations (source ids) the receiver holds for a stream, or undefined when aborted. */
export async function committedSources(
  transport: RetryingTransport, workspaceId: string, stream: LineStream, signal: AbortSignal, onFailed: (f: FailedAttempt) => void,
): Promise<string[] | undefined> {
  const query = new URLSearchParams({ workspace_id: workspaceId, stream });
  const result = await transport.deliver({ method: 'GET', path: `${PATHS.offsets}?${query}`, headers: {} }, signal, onFailed);
  if (result.status !== 'delivered') return undefined;
  return ((result.answer as unknown as OffsetsResponse).offsets ?? []).filter((o) => o.stream === stream).map((o) => o.source_id);
}

/** The committed offset (0 for a stream the receiver has never seen), or undefined when aborted. */
export async function committedOffset(
  transport: RetryingTransport, workspaceId: string, stream: LineStream, sourceId: string, signal: AbortSignal, onFailed: (f: FailedAttempt) => void,
): Promise<number | undefined> {
  const query = new URLSearchParams({ workspace_id: workspaceId, stream, source_id: sourceId });
  const result = await transport.deliver({ method: 'GET', path: `${PATHS.offsets}?${query}`, headers: {} }, signal, onFailed);
  if (result.status !== 'delivered') return undefined;
  const offsets = (result.answer as unknown as OffsetsResponse).offsets ?? [];
  return offsets.find((o) => o.stream === stream && o.source_id === sourceId)?.next_offset ?? 0;
}
