// What a batch becomes on the wire: the native protocol carries the file's
// exact bytes, gzipped only when GZIP=true.

import { gunzipSync } from 'node:zlib';
import { expect, it } from 'vitest';
import { nativeRequest } from '../../shipper/ship/request-body.js';

const batch = { stream: 'commands' as const, workspaceId: 'ws-1', generation: 'g1', offset: 120, bytes: Buffer.from('{"command":"ls","exit_code":0,"timestamp":1}\n') };

it('sends the batch bytes as they are, with the stream position in headers', async () => {
  const out = await nativeRequest(batch, false);
  expect(out.body).toBe(batch.bytes);
  expect(out.gzip).toBe(false);
  expect(Object.values(out.headers)).toEqual(expect.arrayContaining(['ws-1', 'g1', '120']));
});

it('with compression, sends the gzip of exactly those bytes', async () => {
  const out = await nativeRequest(batch, true);
  expect(out.gzip).toBe(true);
  expect(gunzipSync(out.body as Buffer).equals(batch.bytes)).toBe(true);
});
