// The recording pipeline against a real S3-compatible store (s3rver), the
// real receiver and PostgreSQL: segments while session.cast grows, one
// byte-identical object at the end, whatever is killed or down on the way.
// The specs where the store's multipart housekeeping matters run twice: with
// the fixture's ListMultipartUploads and AbortMultipartUpload, and against
// plain s3rver, which has neither.

import { appendFile, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { primaryFinalKey } from '../../shared/recording-keys.js';
import { castEvents, castHeader, startRecordingWorld, type RecordingWorld } from '../helpers/recording.js';
import { freePort } from '../../dev/free-port.js';
import { READ_TOKEN } from '../helpers/receiver.js';
import { startShipper, type ShipperProcess } from '../helpers/shipper.js';
import { waitFor } from '../helpers/wait.js';

let s3: RecordingWorld['s3'];
let base: string;
let db: RecordingWorld['db'];
let objectBytes: RecordingWorld['objectBytes'];
let segmentBytes: RecordingWorld['segmentBytes'];
let generations: RecordingWorld['generations'];
let refs: RecordingWorld['refs'];
let recordingEnv: RecordingWorld['recordingEnv'];

beforeAll(async () => {
  ({ s3, base, db, objectBytes, segmentBytes, generations, refs, recordingEnv } = await startRecordingWorld());
});

/** Watches recording_refs and fails if last_sync_byte ever goes back. */
function watchRefs(ws: string): { seen: number[]; stop(): void } {
  const seen: number[] = [];
  const timer = setInterval(async () => {
    const r = await refs(ws).catch(() => undefined);
    if (r && seen.at(-1) !== r.last_sync_byte) seen.push(r.last_sync_byte);
  }, 20);
  return { seen, stop: () => clearInterval(timer) };
}

async function stopped(shipper: ShipperProcess): Promise<void> {
  shipper.child.kill('SIGTERM');
  const exit = await shipper.exited;
  expect(exit.code, shipper.output()).toBe(0);
}

const MODES = [
  { plain: false, store: 'an S3 store with the multipart housekeeping calls' },
  { plain: true, store: 'plain s3rver (no ListMultipartUploads, no AbortMultipartUpload)' },
];

/** Log lines that report a housekeeping call the store lacks. */
const unsupportedLogs = (shipper: ShipperProcess) => shipper.logs.filter((l) => String(l.msg).startsWith('object storage does not offer this housekeeping call'));

describe.each(MODES)('recording pipeline against $store', ({ plain }) => {
  beforeAll(() => s3.setPlain(plain));
  afterAll(() => s3.setPlain(false));
  const wsOf = (name: string) => (plain ? `${name}-plain` : name);

  it('a growing cast file: segments equal the file prefix at every sync, then one byte-identical object', async () => {
    const ws = wsOf('rec-grow');
    const { env, cast } = await recordingEnv(ws);
    await writeFile(cast, castHeader());
    const shipper = await startShipper(env);
    const refsSeen = watchRefs(ws);
    const prefixChecks: number[] = [];
    for (let burst = 0; burst < 8; burst++) {
      // Bursts of all sizes, some ending with a partial line.
      await appendFile(cast, castEvents(burst * 1000, burst === 5 ? 60_000 : 50 + burst * 30));
      if (burst % 3 === 0) await appendFile(cast, '[99.9, "o", "partial');
      await new Promise((r) => setTimeout(r, 250));
      if (burst % 3 === 0) await appendFile(cast, ' line"]\n');
      const [gen] = await generations(ws);
      if (gen) {
        // Durable is what the shipper has reported to the receiver.
        const durable = await segmentBytes(ws, gen, (await refs(ws))?.last_sync_byte ?? 0);
        const file = await readFile(cast);
        expect(durable.equals(file.subarray(0, durable.length)), `segments are a prefix of the file after burst ${burst}`).toBe(true);
        expect(durable.length === 0 || durable[durable.length - 1] === 0x0a).toBe(true);
        prefixChecks.push(durable.length);
      }
    }
    await waitFor(async () => (await refs(ws))?.last_sync_byte === (await readFile(cast)).length, 'everything synced as segments');
    await stopped(shipper);
    refsSeen.stop();

    const file = await readFile(cast);
    const final = await objectBytes(primaryFinalKey(ws));
    expect(final.equals(file)).toBe(true);
    expect(await refs(ws)).toEqual({ storage_path: `s3://${s3.bucket}/${primaryFinalKey(ws)}`, last_sync_byte: file.length });
    expect(refsSeen.seen).toEqual([...refsSeen.seen].sort((a, b) => a - b));
    expect(prefixChecks.filter((n) => n > 0).length).toBeGreaterThan(3);
    expect(await s3.pendingUploads()).toEqual([]);
    expect(shipper.logs.some((l) => l.msg === 'whole recording uploaded')).toBe(true);

    // The receiver's read endpoint serves the same bytes.
    const res = await fetch(`${base}/recordings/${ws}`, { headers: { authorization: `Bearer ${READ_TOKEN}` } });
    expect(res.headers.get('x-recording-source')).toBe('final');
    expect(Buffer.from(await res.arrayBuffer()).equals(file)).toBe(true);
    // Without the listing of uploads, the start-up housekeeping is skipped: logged once, counted, no retries.
    expect(unsupportedLogs(shipper).map((l) => l.stage)).toEqual(plain ? ['list_uploads'] : []);
  });

  it('SIGKILL during a segment upload and during the multipart upload: still byte-identical; uploads left open only where the store cannot abort them', async () => {
    const ws = wsOf('rec-kill');
    const { env, cast } = await recordingEnv(ws, { RECORDING_SYNC_INTERVAL_MS: '100' });
    await writeFile(cast, castHeader());
    for (let i = 0; i < 4; i++) {
      const shipper = await startShipper(env);
      // A big burst: a segment of several MB is in flight when the kill comes.
      await appendFile(cast, castEvents(i * 100_000, 40_000, 200));
      await new Promise((r) => setTimeout(r, 150 + i * 50));
      shipper.child.kill('SIGKILL');
      await shipper.exited;
    }
    // Now kill during the final (multipart: the file is > 5 MiB) upload.
    const drainer = await startShipper(env);
    await waitFor(async () => (await refs(ws))?.last_sync_byte === (await readFile(cast)).length, 'segments caught up', 30_000);
    drainer.child.kill('SIGTERM');
    await waitFor(() => drainer.logs.some((l) => l.msg === 'draining: shipping everything before exit'), 'drain started');
    await new Promise((r) => setTimeout(r, 30));
    drainer.child.kill('SIGKILL');
    await drainer.exited;

    const last = await startShipper(env);
    await stopped(last);
    const file = await readFile(cast);
    expect(file.length).toBeGreaterThan(5 * 1024 * 1024);
    expect((await objectBytes(primaryFinalKey(ws))).equals(file)).toBe(true);
    const [gen] = await generations(ws);
    expect((await segmentBytes(ws, gen!)).equals(file)).toBe(true);
    const open = (await s3.pendingUploads()).filter((u) => u.key.startsWith(`recordings/${ws}/`));
    // A plain store keeps what a kill interrupted: the bucket's lifecycle rule is for that (README).
    if (plain) expect(unsupportedLogs(last)).toHaveLength(1);
    else expect(open).toEqual([]);
  }, 120_000);
});

describe('recording pipeline', () => {
  it('the read endpoint serves the segments concatenated before the final object exists', async () => {
    const ws = 'rec-live';
    const { env, cast } = await recordingEnv(ws);
    await writeFile(cast, castHeader() + castEvents(0, 500));
    const shipper = await startShipper(env);
    await waitFor(async () => (await refs(ws))?.last_sync_byte === (await readFile(cast)).length, 'segments synced');
    const res = await fetch(`${base}/recordings/${ws}?token=${READ_TOKEN}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-recording-source')).toBe('segments');
    expect(Buffer.from(await res.arrayBuffer()).equals(await readFile(cast))).toBe(true);
    expect((await fetch(`${base}/recordings/${ws}`)).status).toBe(401);
    shipper.child.kill('SIGKILL');
  });

  it('S3 down for a while, then back: nothing lost, the JSONL pipelines keep shipping meanwhile', async () => {
    const ws = 'rec-down';
    const { env, cast, dirs } = await recordingEnv(ws);
    await writeFile(cast, castHeader() + castEvents(0, 100));
    const shipper = await startShipper(env);
    await waitFor(async () => (await refs(ws))?.last_sync_byte === (await readFile(cast)).length, 'first sync');
    await s3.stop();
    try {
      await appendFile(cast, castEvents(100, 300));
      await writeFile(join(dirs.runtimeDir, 'command-log.jsonl'), JSON.stringify({ command: 'while s3 is down', exit_code: 0, timestamp: 1 }) + '\n');
      await waitFor(async () => (await db.query("SELECT 1 FROM command_log WHERE workspace_id = 'rec-down'")).rowCount === 1, 'commands ship while S3 is down');
      await waitFor(() => shipper.logs.some((l) => l.msg === 'object storage failed; retrying'), 'a failed upload');
    } finally {
      await s3.start();
    }
    await waitFor(async () => (await refs(ws))?.last_sync_byte === (await readFile(cast)).length, 'synced after S3 came back', 30_000);
    await stopped(shipper);
    expect((await objectBytes(primaryFinalKey(ws))).equals(await readFile(cast))).toBe(true);
  });

  it('a truncated recording starts a new generation and leaves the old one in place', async () => {
    const ws = 'rec-trunc';
    const { env, cast } = await recordingEnv(ws);
    const first = castHeader() + castEvents(0, 200);
    await writeFile(cast, first);
    const shipper = await startShipper(env);
    await waitFor(async () => (await refs(ws))?.last_sync_byte === Buffer.byteLength(first), 'first generation synced');
    const [firstGen] = await generations(ws);
    await truncate(cast, 0);
    const second = JSON.stringify({ version: 2, width: 80, height: 24, timestamp: 1763899999 }) + '\n' + castEvents(0, 50);
    await appendFile(cast, second);
    await waitFor(async () => (await generations(ws)).length === 2, 'a second generation');
    await stopped(shipper);
    expect((await segmentBytes(ws, firstGen!)).toString()).toBe(first);
    const secondGen = (await generations(ws)).find((g) => g !== firstGen)!;
    expect((await segmentBytes(ws, secondGen)).toString()).toBe(second);
    // The first generation never became a whole object, so the second owns session.cast.
    expect((await objectBytes(primaryFinalKey(ws))).toString()).toBe(second);
    // recording_refs did not go back to the shorter second generation's bytes.
    expect((await refs(ws))!.last_sync_byte).toBe(Buffer.byteLength(first));
  });

  it('after the idle time, the whole file is uploaded without a shutdown', async () => {
    const ws = 'rec-idle';
    const { env, cast } = await recordingEnv(ws, { RECORDING_IDLE_MS: '1000' });
    await writeFile(cast, castHeader() + castEvents(0, 100));
    const shipper = await startShipper(env);
    await waitFor(async () => (await refs(ws))?.storage_path.endsWith('session.cast'), 'final object after idle', 10_000);
    expect((await objectBytes(primaryFinalKey(ws))).equals(await readFile(cast))).toBe(true);
    const metrics = await (await fetch(`${shipper.metricsUrl}/metrics`)).text();
    for (const name of ['recording_bytes_uploaded_total{kind="segment"}', 'recording_bytes_uploaded_total{kind="final"}', 'recording_segments_total', 'recording_last_sync_age_seconds', 'recording_unsynced_bytes 0']) {
      expect(metrics).toContain(`ferry_shipper_${name}`);
    }
    shipper.child.kill('SIGKILL');
  });

  it('a recording that grows again after its idle upload is read from the segments, which went further', async () => {
    const ws = 'rec-idle-grows';
    const { env, cast } = await recordingEnv(ws, { RECORDING_IDLE_MS: '1000' });
    await writeFile(cast, castHeader() + castEvents(0, 50));
    const shipper = await startShipper(env);
    await waitFor(async () => (await refs(ws))?.storage_path === `s3://${s3.bucket}/${primaryFinalKey(ws)}`, 'the idle upload');
    await appendFile(cast, castEvents(50, 50));
    await waitFor(async () => (await refs(ws))?.last_sync_byte === (await readFile(cast)).length, 'the new lines synced as segments');
    const res = await fetch(`${base}/recordings/${ws}?token=${READ_TOKEN}`);
    expect(res.headers.get('x-recording-source')).toBe('segments');
    expect(Buffer.from(await res.arrayBuffer()).equals(await readFile(cast))).toBe(true);
    await stopped(shipper);
    const final = await fetch(`${base}/recordings/${ws}?token=${READ_TOKEN}`);
    expect(final.headers.get('x-recording-source')).toBe('final');
    expect(Buffer.from(await final.arrayBuffer()).equals(await readFile(cast))).toBe(true);
  });


  it('with object storage unreachable from the start, the sync age counts from the start and failures are counted', async () => {
    const ws = 'rec-never';
    const { env, cast } = await recordingEnv(ws, {}, { s3Endpoint: `http://127.0.0.1:${await freePort()}` });
    await writeFile(cast, castHeader() + castEvents(0, 10));
    const shipper = await startShipper(env);
    const sample = async (name: string) => Number(new RegExp(`^ferry_shipper_${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(await (await fetch(`${shipper.metricsUrl}/metrics`)).text())?.[1]);
    // Never synced reads as a growing age (the alert's "no durable upload for 10 minutes"), not as 0.
    await waitFor(async () => (await sample('recording_last_sync_age_seconds')) >= 1.5, 'the sync age to grow', 10_000);
    expect(await sample('recording_failures_total')).toBeGreaterThan(0);
    shipper.child.kill('SIGKILL');
  });
});
