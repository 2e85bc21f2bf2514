// Posting lines to the receiver as caught-up shippers do: each stream's lines
// in request bodies of about a batch, in order, one request in flight per
// stream, every answer checked.

import { Agent, request } from 'undici';

export interface Batch {
  body: Buffer;
  lines: number;
  /** The body's first byte in its stream. */
  offset: number;
}

export interface StreamBatches {
  workspaceId: string;
  /** X-Source-Id: a new one stores the same lines again. */
  sourceId: string;
  batches: Batch[];
}

/** One stream's lines (each ending in a newline) as request bodies of about `batchBytes`. */
export function batchesOf(lines: string[], batchBytes: number): Batch[] {
  const batches: Batch[] = [];
  let offset = 0;
  for (let i = 0; i < lines.length;) {
    const from = i;
    let size = 0;
    while (i < lines.length && size < batchBytes) size += Buffer.byteLength(lines[i++]!);
    batches.push({ body: Buffer.from(lines.slice(from, i).join('')), lines: i - from, offset });
    offset += size;
  }
  return batches;
}

/** Posts every stream's batches to `/ingest/commands`; throws unless every line is accepted. Returns the requests made, refused ones included. */
export async function postCommandStreams(receiverUrl: string, token: string, streams: StreamBatches[]): Promise<number> {
  const agent = new Agent({ connections: streams.length });
  let requests = 0;
  try {
    await Promise.all(streams.map(async ({ workspaceId, sourceId, batches }) => {
      for (const batch of batches) {
        for (;;) {
          const res = await request(`${receiverUrl}/ingest/commands`, {
            method: 'POST', dispatcher: agent, body: batch.body,
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-ndjson', 'x-workspace-id': workspaceId, 'x-source-id': sourceId, 'x-source-offset': String(batch.offset) },
          });
          const answer = (await res.body.json()) as { accepted: number };
          requests++;
          // Refused before its body was read (memory budget, rate): a shipper waits as told and sends it again.
          if (res.statusCode === 503 || res.statusCode === 429) {
            await new Promise((r) => setTimeout(r, Number(res.headers['retry-after'] ?? 1) * 1000));
            continue;
          }
          if (res.statusCode !== 200 || answer.accepted !== batch.lines) throw new Error(`ingest answered ${res.statusCode}: ${JSON.stringify(answer)}`);
          break;
        }
      }
    }));
  } finally {
    await agent.close();
  }
  return requests;
}
