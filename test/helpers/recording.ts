// A world for recording specs: a real S3-compatible store (s3rver), the real
// receiver reading from it, PostgreSQL, and ways to look at what is durable.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { S3_ACCESS_KEY, S3_SECRET_KEY, startS3, type S3Options, type S3Server } from '../../dev/embedded-s3.js';
import type { ReceiverConfig } from '../../receiver/config.js';
import { createObjectStore, type ObjectStore } from '../../shared/object-store.js';
import { contiguousSegments, segmentsPrefix, segmentsRoot } from '../../shared/recording-keys.js';
import { atEnd } from './cleanup.js';
import { freshDatabase, queryPool } from './database.js';
import { READ_TOKEN, startTestReceiver } from './receiver.js';
import { shipperDirs, shipperEnv, type ShipperDirs } from './shipper.js';

export interface RecordingWorld {
  s3: S3Server;
  store: ObjectStore;
  /** The receiver's base URL. */
  base: string;
  db: pg.Pool;
  objectBytes(key: string): Promise<Buffer>;
  /** The generation's contiguous segments concatenated, up to byte `upTo`: while the shipper uploads, s3rver lists an object before it can be read. */
  segmentBytes(ws: string, generation: string, upTo?: number): Promise<Buffer>;
  /** The generations that have segments in the bucket. */
  generations(ws: string): Promise<string[]>;
  refs(ws: string): Promise<{ storage_path: string; last_sync_byte: number } | undefined>;
  /** What GET /recordings/<ws>[?generation=] serves, and from where. */
  served(ws: string, generation?: string): Promise<{ status: number; source: string | null; bytes: Buffer }>;
  /** Folders and a shipper environment for a workspace (sync every 150 ms, no idle upload); `receiver`: through a receiver of its own, with these settings. */
  recordingEnv(ws: string, extra?: Record<string, string>, receiver?: Partial<ReceiverConfig>): Promise<{ dirs: ShipperDirs; env: Record<string, string>; cast: string }>;
}

/** The receiver's settings for this store: its bucket and endpoint, and the writer identity (s3rver knows one). */
export function receiverS3(s3: S3Server): Partial<ReceiverConfig> {
  return { recordingBucket: s3.bucket, s3Endpoint: s3.endpoint, s3ForcePathStyle: true, recordingWriterAccessKeyId: S3_ACCESS_KEY, recordingWriterSecretAccessKey: S3_SECRET_KEY };
}

export async function startRecordingWorld(options: S3Options = {}): Promise<RecordingWorld> {
  const s3 = await startS3(options);
  atEnd(() => s3.destroy());
  const store = await createObjectStore({ bucket: s3.bucket, region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true });
  atEnd(() => store.destroy());
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: s3.env.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: s3.env.AWS_SECRET_ACCESS_KEY });
  const url = await freshDatabase();
  // The receiver reads with the SDK's default chain (these variables) and writes with its writer identity.
  const base = (await startTestReceiver(url, receiverS3(s3))).url;
  const db = queryPool(url);

  async function objectBytes(key: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of await store.read(key)) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }
  return {
    s3,
    store,
    base,
    db,
    objectBytes,
    async segmentBytes(ws, generation, upTo = Number.POSITIVE_INFINITY) {
      const segs = contiguousSegments(await store.list(segmentsPrefix(ws, generation))).filter((seg) => seg.end <= upTo);
      return Buffer.concat(await Promise.all(segs.map((s) => objectBytes(s.key))));
    },
    async generations(ws) {
      const objects = await store.list(segmentsRoot(ws));
      return [...new Set(objects.map((o) => o.key.split('/')[3]!))];
    },
    async refs(ws) {
      const row = (await db.query('SELECT storage_path, last_sync_byte FROM recording_refs WHERE workspace_id = $1', [ws])).rows[0];
      return row && { storage_path: row.storage_path, last_sync_byte: Number(row.last_sync_byte) };
    },
    async served(ws, generation) {
      const query = generation === undefined ? '' : `?generation=${encodeURIComponent(generation)}`;
      const res = await fetch(`${base}/recordings/${ws}${query}`, { headers: { authorization: `Bearer ${READ_TOKEN}` } });
      return { status: res.status, source: res.headers.get('x-recording-source'), bytes: Buffer.from(await res.arrayBuffer()) };
    },
    async recordingEnv(ws, extra = {}, receiver) {
      const dirs = await shipperDirs();
      await mkdir(dirs.runtimeDir, { recursive: true });
      const through = receiver ? (await startTestReceiver(url, { ...receiverS3(s3), ...receiver })).url : base;
      const env = shipperEnv(through, dirs, ws, { ...s3.shipperEnv, RECORDING_SYNC_INTERVAL_MS: '150', RECORDING_IDLE_MS: '600000', ...extra });
      return { dirs, env, cast: join(dirs.runtimeDir, 'session.cast') };
    },
  };
}

/** An asciicast v2 header line. */
export function castHeader(timestamp = 1763892000): string {
  return `${JSON.stringify({ version: 2, width: 120, height: 40, timestamp, env: { SHELL: '/bin/bash', TERM: 'xterm-256color' } })}\n`;
}

/** Event lines [time, "o", text], `textBytes` of text each (multi-byte characters included). */
export function castEvents(from: number, count: number, textBytes = 40): string {
  return Array.from({ length: count }, (_, i) => `${JSON.stringify([(from + i) / 10, 'o', `line ${from + i} ${'█▓▒░ ünï 🚀 '.repeat(Math.ceil(textBytes / 20)).slice(0, textBytes)}\r\n`])}\n`).join('');
}
