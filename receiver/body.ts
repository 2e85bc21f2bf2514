// Reads a request body into memory under a limit that applies after gzip
// decoding, so a gzip bomb costs at most MAX_BODY_BYTES, and under a deadline:
// a body that keeps trickling in is cut off at REQUEST_TIMEOUT_MS (Node's own
// request timeout only catches a connection that goes silent, and late).

import type { IncomingMessage } from 'node:http';
import { createGunzip } from 'node:zlib';
import { RequestError } from './errors.js';

export async function readBody(request: IncomingMessage, limit: number, timeoutMs: number): Promise<Buffer> {
  const encoding = (request.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (!['identity', 'gzip', 'x-gzip'].includes(encoding)) {
    throw new RequestError('unsupported_media_type', `Content-Encoding ${JSON.stringify(encoding)} is not supported (use gzip or none)`);
  }
  const declared = Number(request.headers['content-length']);
  const tooLarge = () => new RequestError('body_too_large', `the body is over ${limit} bytes${encoding === 'identity' ? '' : ' once decoded'}`);
  if (encoding === 'identity' && declared > limit) throw tooLarge();

  const source = encoding === 'identity' ? request : request.pipe(createGunzip());
  const chunks: Buffer[] = [];
  let size = 0;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RequestError('request_timeout', `the body did not arrive within REQUEST_TIMEOUT_MS (${timeoutMs} ms)`)), timeoutMs);
  });
  const read = (async () => {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) throw tooLarge();
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
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return Buffer.concat(chunks, size);
}
