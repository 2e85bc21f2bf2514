// GET /ingest/offsets: where the receiver has committed a stream. The receiver
// is the authority; the local checkpoint is what the shipper uses when it
// cannot ask.

import { Agent, request } from 'undici';
import { PATHS, type LineStream, type OffsetsResponse } from '../../shared/wire.js';

export type OffsetAnswer = { status: 'ok'; nextOffset: number } | { status: 'failed'; reason: string };

export interface OffsetsClient {
  committed(stream: LineStream, sourceId: string, signal?: AbortSignal): Promise<OffsetAnswer>;
  close(): Promise<void>;
}

export function createOffsetsClient(baseUrl: string, token: string, workspaceId: string, timeoutMs: number): OffsetsClient {
  const agent = new Agent({ connections: 1, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  return {
    async committed(stream, sourceId, signal) {
      const query = new URLSearchParams({ workspace_id: workspaceId, stream, source_id: sourceId });
      try {
        const res = await request(`${baseUrl}${PATHS.offsets}?${query}`, { dispatcher: agent, headers: { authorization: `Bearer ${token}` }, signal });
        const text = await res.body.text();
        if (res.statusCode !== 200) return { status: 'failed', reason: `HTTP ${res.statusCode} ${text.slice(0, 200)}` };
        const answer = JSON.parse(text) as OffsetsResponse;
        const row = answer.offsets.find((o) => o.stream === stream && o.source_id === sourceId);
        return { status: 'ok', nextOffset: row?.next_offset ?? 0 };
      } catch (err) {
        return { status: 'failed', reason: (err as Error).message };
      }
    },
    close: () => agent.close(),
  };
}
