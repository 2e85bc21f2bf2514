// The recording against an imperfect store and a lost checkpoint: S3 errors
// are told apart (a configuration fault is retried slowly and loudly, a
// transient one with backoff, a missing housekeeping call is skipped); at
// shutdown the tail is durable as a segment before the whole object starts,
// so a store too slow for the whole object loses nothing; and a recording
// truncated before its checkpoint was lost is never spliced onto its old
// generation.

import { appendFile, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { createObjectStore } from '../../shared/object-store.js';
import { primaryFinalKey } from '../../shared/recording-keys.js';
import { s3FailureKind } from '../../shipper/record/s3-failures.js';
import { startProxy } from '../chaos/proxy.js';
import { atEnd } from '../helpers/cleanup.js';
import { castEvents, castHeader, startRecordingWorld, type RecordingWorld } from '../helpers/recording.js';
import { startShipper, type ShipperProcess } from '../helpers/shipper.js';
import { waitFor } from '../helpers/wait.js';

let world: RecordingWorld;

beforeAll(async () => {
  world = await startRecordingWorld();
});

/** An error as the S3 client throws it for an answer with this code and status. */
const s3Error = (name: string, status?: number) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });

async function metricsText(shipper: ShipperProcess): Promise<string> {
  return (await fetch(`${shipper.metricsUrl}/metrics`)).text();
}

describe('what an S3 failure means', () => {
  it('housekeeping calls the store lacks or forbids are unsupported; the same answers to a data call are configuration faults', () => {
    for (const [name, status] of [['NotImplemented', 501], ['MethodNotAllowed', 405], ['AccessDenied', 403]] as const) {
      expect(s3FailureKind(s3Error(name, status), true), name).toBe('unsupported');
      expect(s3FailureKind(s3Error(name, status), false), name).toBe('configuration');
    }
  });

  it('a wrong bucket, credentials or region is a configuration fault; throttling, timeouts, 5xx and network errors are transient', () => {
    for (const [name, status] of [['NoSuchBucket', 404], ['InvalidAccessKeyId', 403], ['SignatureDoesNotMatch', 403], ['PermanentRedirect', 301], ['Forbidden', 403], ['BadRequest', 400]] as const) {
      expect(s3FailureKind(s3Error(name, status), false), name).toBe('configuration');
    }
    for (const [name, status] of [['SlowDown', 503], ['InternalError', 500], ['RequestTimeout', 400], ['ExpiredToken', 400], ['NoSuchUpload', 404], ['TooManyRequests', 429]] as const) {
      expect(s3FailureKind(s3Error(name, status), false), name).toBe('transient');
    }
    expect(s3FailureKind(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), false)).toBe('transient');
    expect(s3FailureKind(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), true)).toBe('transient');
  });
});

describe('recording against an imperfect store', () => {
  it('a bucket that does not exist: a loud, counted configuration fault retried slowly while the JSONL files ship; recorded once the bucket exists', async () => {
    const ws = 'rec-no-bucket';
    const bucket = 'not-yet-there';
    // The receiver's bucket: the shipper reaches the store through it, and its S3 code comes along.
    const { env, cast, dirs } = await world.recordingEnv(ws, { RECORDING_BUCKET: bucket, REFUSED_RETRY_DELAY_MS: '400' }, { recordingBucket: bucket });
    const text = castHeader() + castEvents(0, 200);
    await writeFile(cast, text);
    const shipper = await startShipper(env);
    const refusals = () => shipper.logs.filter((l) => String(l.msg).startsWith('object storage REFUSED the call'));
    await waitFor(() => refusals().length >= 3, 'three refused attempts');
    expect(refusals()[0]).toMatchObject({ level: 50, err: expect.stringContaining('NoSuchBucket (HTTP 404)') });
    const times = refusals().map((l) => Date.parse(String(l.time)));
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(390);
    expect(await metricsText(shipper)).toMatch(/ferry_shipper_recording_failures_total\{stage="list_uploads",kind="configuration"\} [3-9]/);
    await writeFile(join(dirs.runtimeDir, 'command-log.jsonl'), `${JSON.stringify({ command: 'meanwhile', exit_code: 0, timestamp: 1 })}\n`);
    await waitFor(async () => (await world.db.query('SELECT 1 FROM command_log WHERE workspace_id = $1', [ws])).rowCount === 1, 'commands ship meanwhile');

    const client = new S3Client({ region: 'us-east-1', endpoint: world.s3.endpoint, forcePathStyle: true });
    atEnd(() => client.destroy());
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    await waitFor(async () => (await world.refs(ws))?.last_sync_byte === Buffer.byteLength(text), 'recorded once the bucket exists', 10_000);
    shipper.child.kill('SIGTERM');
    expect((await shipper.exited).code, shipper.output()).toBe(0);
    const store = await createObjectStore({ bucket, region: 'us-east-1', endpoint: world.s3.endpoint, forcePathStyle: true });
    atEnd(() => store.destroy());
    const chunks: Buffer[] = [];
    for await (const c of await store.read(primaryFinalKey(ws))) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe(text);
  });

  it('a store too slow for the whole object at shutdown: the tail is a segment first, so every byte is durable and served (not the older whole object); the next run uploads the whole object', async () => {
    const ws = 'rec-slow-store';
    const proxy = await startProxy(() => [Number(new URL(world.s3.endpoint).port)]);
    atEnd(() => proxy.close());
    // The receiver presigns for the store behind the proxy: the shipper's PUTs go through it.
    const { env, cast } = await world.recordingEnv(ws, { RECORDING_SYNC_INTERVAL_MS: '1000', RECORDING_IDLE_MS: '1000', DRAIN_TIMEOUT_MS: '4000' }, { s3Endpoint: `http://127.0.0.1:${proxy.port}` });
    await writeFile(cast, castHeader() + castEvents(0, 30_000, 200));
    const shipper = await startShipper(env);
    const synced = (await readFile(cast)).length;
    // Synced as segments, then uploaded whole after the idle second.
    await waitFor(async () => (await world.refs(ws))?.storage_path.endsWith('/session.cast'), 'the whole object after the idle time', 30_000);
    // The tail: complete lines and a last line without its newline, which only the shutdown makes durable.
    await appendFile(cast, `${castEvents(30_000, 30)}[3003.1, "o", "half a li`);
    const file = await readFile(cast);
    expect(file.length).toBeGreaterThan(6 * 1024 * 1024);
    // 100 ms per 64 KiB chunk: a few KiB pass in well under a second, the 6+ MiB object would take over 10 s.
    const slow = proxy.slow(100, 6_000);
    shipper.child.kill('SIGTERM');
    const exit = await shipper.exited;
    expect(exit.code, shipper.output()).toBe(1);
    expect(shipper.logs.filter((l) => l.msg === 'whole recording uploaded').map((l) => l.bytes)).toEqual([synced]);
    expect(await world.refs(ws)).toMatchObject({ last_sync_byte: file.length });
    const served = await world.served(ws);
    expect(served).toMatchObject({ status: 200, source: 'segments' });
    expect(served.bytes.equals(file)).toBe(true);
    expect((await world.objectBytes(primaryFinalKey(ws))).length).toBe(synced);

    await slow;
    const next = await startShipper(env);
    next.child.kill('SIGTERM');
    expect((await next.exited).code, next.output()).toBe(0);
    expect((await world.objectBytes(primaryFinalKey(ws))).equals(file)).toBe(true);
    expect((await world.served(ws)).source).toBe('final');
    expect((await world.s3.pendingUploads()).filter((u) => u.key.startsWith(`recordings/${ws}/`))).toEqual([]);
  }, 90_000);

  it('truncated, then the checkpoint lost: the restart continues the new generation, never the old one (no spliced recording)', async () => {
    const ws = 'rec-lost-checkpoint';
    const { env, cast, dirs } = await world.recordingEnv(ws, { CHECKPOINT_INTERVAL_MS: '0' });
    const old = castHeader() + castEvents(0, 300);
    await writeFile(cast, old);
    let shipper = await startShipper(env);
    await waitFor(async () => (await world.refs(ws))?.last_sync_byte === Buffer.byteLength(old), 'the first generation synced');
    const [first] = await world.generations(ws);
    // The same header line: only the truncation tells the two generations apart.
    await truncate(cast, 0);
    await appendFile(cast, castHeader() + castEvents(5000, 50));
    await waitFor(async () => (await world.generations(ws)).length === 2, 'the truncated file as a second generation');
    const second = (await world.generations(ws)).find((g) => g !== first)!;
    expect(second).toBe(`${first}.t1`);
    shipper.child.kill('SIGKILL');
    await shipper.exited;
    await rm(join(dirs.stateDir, 'checkpoints.json'));
    // Now longer than the old generation: continuing it would append the new bytes after its segments.
    await appendFile(cast, castEvents(6000, 400));

    shipper = await startShipper(env);
    shipper.child.kill('SIGTERM');
    expect((await shipper.exited).code, shipper.output()).toBe(0);
    const file = await readFile(cast);
    expect((await world.segmentBytes(ws, first!)).toString()).toBe(old);
    expect((await world.segmentBytes(ws, second)).equals(file)).toBe(true);
    expect(await world.generations(ws)).toHaveLength(2);
    const served = await world.served(ws);
    expect(served.bytes.equals(file)).toBe(true);
  });
});
