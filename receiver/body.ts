// Reads a request body into memory under a limit that applies after gzip
// decoding, so a gzip bomb costs at most the limit; against the request's
// memory lease, which grows as decoded bytes arrive and, when the replica's
// budget cannot give more, ends the read (503); and under a deadline: a body
// that keeps trickling in is cut off at REQUEST_TIMEOUT_MS (Node's own request
// timeout only catches a connection that goes silent, and late).

import type { IncomingMessage } from 'node:http';
import { createGunzip } from 'node:zlib';
import { RequestError } from './errors.js';
import { allowBody } from './expect-continue.js';
import type { Lease } from './limits/memory-budget.js';

export interface BodyLimits {
  limit: number;
  timeoutMs: number;
  /** The bytes this body may hold; undefined: only `limit` bounds it. */
  lease?: Lease;
  /** The answer when the lease cannot grow. */
  overloaded(): RequestError;
}

export async function readBody(request: IncomingMessage, o: BodyLimits): Promise<Buffer> {
  const encoding = (request.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (!['identity', 'gzip', 'x-gzip'].includes(encoding)) {
    throw new RequestError('unsupported_media_type', `Content-Encoding ${JSON.stringify(encoding)} is not supported (use gzip or none)`);
  }
  const declared = Number(request.headers['content-length']);
  const tooLarge = () => new RequestError('body_too_large', `the body is over ${o.limit} bytes${encoding === 'identity' ? '' : ' once decoded'}`);
  if (encoding === 'identity' && declared > o.limit) throw tooLarge();
  allowBody(request);

  const source = encoding === 'identity' ? request : request.pipe(createGunzip());
  const chunks: Buffer[] = [];
  let size = 0;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RequestError('request_timeout', `the body did not arrive within REQUEST_TIMEOUT_MS (${o.timeoutMs} ms)`)), o.timeoutMs);
  });
  const read = (async () => {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > o.limit) throw tooLarge();
      // Grown in steps of at least a quarter, so a long body asks the budget a few times, not per chunk.
      if (o.lease && size > o.lease.bytes && !o.lease.growTo(Math.min(o.limit, Math.max(size, Math.ceil(o.lease.bytes * 1.25))))) throw o.overloaded();
      chunks.push(chunk);
    }
  })();
  // After a timeout the answer closes the connection, which ends this read.
  read.catch(() => undefined);
  try {
    await Promise.race([read, deadline]);
  } catch (err) {
    if (source !== request) source.destroy();
    if (err instanceof RequestError) throw err;
    if ((err as { code?: string }).code?.startsWith('Z_')) throw new RequestError('bad_body', `the gzip body cannot be decoded: ${(err as Error).message}`);
    // The client hung up mid-body: its own business, never a sign of trouble here (the database's least of all).
    if (request.destroyed || request.readableAborted) throw new RequestError('client_aborted', `the client closed the connection before its body arrived (${(err as Error).message})`);
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return Buffer.concat(chunks, size);
}
