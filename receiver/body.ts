// Reads a request body into memory under a limit that applies after gzip
// decoding, so a gzip bomb costs at most MAX_BODY_BYTES.

import type { IncomingMessage } from 'node:http';
import { createGunzip } from 'node:zlib';
import { RequestError } from './errors.js';

export async function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
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
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) throw tooLarge();
      chunks.push(chunk);
    }
  } catch (err) {
    if (source !== request) source.destroy();
    if (err instanceof RequestError) throw err;
    if ((err as { code?: string }).code?.startsWith('Z_')) throw new RequestError('bad_body', `the gzip body cannot be decoded: ${(err as Error).message}`);
    throw err;
  }
  return Buffer.concat(chunks, size);
}
