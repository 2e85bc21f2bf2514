// The receiver tells causes apart: a client that hangs up, a busy pool and a
// failing object store are each what they are, never a database outage; no
// alert-worthy figure moves for them, and the replica stays ready.

import { beforeAll, describe, expect, it } from 'vitest';
import { startS3, type S3Server } from '../../dev/embedded-s3.js';
import type { RunningReceiver } from '../../receiver/receiver.js';
import { segmentsPrefix } from '../../shared/recording-keys.js';
import { atEnd } from '../helpers/cleanup.js';
import { freshDatabase } from '../helpers/database.js';
import { hangUpMidBody } from '../helpers/hang-up.js';
import { ndjson, postLines, request } from '../helpers/http.js';
import { INGEST_TOKEN, READ_TOKEN, startTestReceiver } from '../helpers/receiver.js';
import { waitFor } from '../helpers/wait.js';
import { receiverS3 } from '../helpers/recording.js';

let receiver: RunningReceiver;
let s3: S3Server;

beforeAll(async () => {
  s3 = await startS3();
  atEnd(() => s3.destroy());
  for (const [name, value] of Object.entries(s3.env)) process.env[name] = value;
  // 50 clients at once, from what would be many pods: here they share one address.
  receiver = await startTestReceiver(await freshDatabase(), { ...receiverS3(s3), maxConnectionsPerPeer: 0 });
});

const metrics = async () => (await fetch(`${receiver.url}/metrics`)).text();
const value = (text: string, series: string) => Number(new RegExp(`^${series.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);

describe('what is not a database outage', () => {
  it('a burst of clients hanging up mid-body is client_aborted: counted, stored nothing, database_up stays 1', async () => {
    expect(value(await metrics(), 'ferry_receiver_database_up')).toBe(1);
    const port = Number(new URL(receiver.url).port);
    await Promise.all(Array.from({ length: 50 }, () => hangUpMidBody(port, INGEST_TOKEN)));
    await waitFor(async () => value(await metrics(), 'ferry_receiver_request_errors_total{code="client_aborted"}') === 50, '50 client_aborted');
    const text = await metrics();
    expect(value(text, 'ferry_receiver_database_up')).toBe(1);
    expect(value(text, 'ferry_receiver_request_errors_total{code="database_unavailable"}')).toBe(0);
    expect(value(text, 'ferry_receiver_request_errors_total{code="internal"}')).toBe(0);
    expect(value(text, 'ferry_receiver_ingest_memory_bytes')).toBe(0);
    expect((await fetch(`${receiver.url}/readyz`)).status).toBe(200);
  });

  it('a saturated pool leaves /readyz at 200: readiness never waits on the connections ingest uses', async () => {
    const held = await Promise.all(Array.from({ length: receiver.pool.options.max }, () => receiver.pool.connect()));
    try {
      const started = performance.now();
      const res = await fetch(`${receiver.url}/readyz`, { signal: AbortSignal.timeout(1_000) });
      expect(res.status).toBe(200);
      expect(performance.now() - started).toBeLessThan(500);
      // Several probe rounds later, still ready, still up.
      await new Promise((r) => setTimeout(r, 4_500));
      expect((await fetch(`${receiver.url}/readyz`)).status).toBe(200);
      expect(value(await metrics(), 'ferry_receiver_database_up')).toBe(1);
    } finally {
      for (const c of held) c.release();
    }
  });

  it('an object store that fails a recording read is storage_unavailable (502), not the database', async () => {
    const ref = { storage_path: `s3://${s3.bucket}/${segmentsPrefix('ws-s3', 'g1')}`, last_sync_byte: 10 };
    await request(`${receiver.url}/ingest/recordings`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-workspace-id': 'ws-s3' }, body: JSON.stringify(ref) });
    await s3.stop();
    try {
      const res = await request(`${receiver.url}/recordings/ws-s3`, { token: READ_TOKEN });
      expect(res.status).toBe(502);
      expect(res.body.error).toBe('storage_unavailable');
      const text = await metrics();
      expect(value(text, 'ferry_receiver_database_up')).toBe(1);
      expect(value(text, 'ferry_receiver_request_errors_total{code="database_unavailable"}')).toBe(0);
      // Ingest goes on meanwhile.
      expect((await postLines(receiver.url, 'commands', ndjson([{ command: 'still', exit_code: 0, timestamp: 1 }]), { workspace: 'ws-s3' })).status).toBe(200);
    } finally {
      await s3.start();
    }
  });
});
