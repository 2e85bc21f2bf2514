// Scenario "recording": a session writes a 200 MB session.cast over time; the
// shipper keeps it in an S3-compatible store (s3rver). Measured: bytes
// uploaded / file size, seconds from SIGTERM to exit with the whole file
// durable, the shipper's peak RSS (its uploads go to URLs the receiver
// presigns). Baseline in the same run: re-uploading the whole file at every
// sync interval (what a naive recorder does to keep one playable object
// current).

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { appendFile, mkdir, open, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startS3 } from '../../dev/embedded-s3.js';
import { createObjectStore } from '../../shared/object-store.js';
import { primaryFinalKey } from '../../shared/recording-keys.js';
import { startBenchDb } from '../lib/bench-db.js';
import { barsFromRows, processCharts } from '../lib/charts.js';
import { sampleProcess } from '../lib/proc-stats.js';
import { BENCH_TOKEN, startReceiverProcess, startShipperProcess } from '../lib/programs.js';
import { MIB } from '../lib/stats.js';
import { printTable } from '../lib/table.js';
import type { Scenario } from '../scenario.js';

const WORKSPACE = 'recording-bench';

async function sha256(stream: NodeJS.ReadableStream): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of stream) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Terminal output events of an asciicast, ~`bytes` of them. */
function castChunk(t: number, bytes: number): string {
  const lines: string[] = [];
  let n = 0;
  for (let i = 0; n < bytes; i++) {
    const line = `${JSON.stringify([t + i / 1000, 'o', `build step ${i}: compiling module ${'▒'.repeat(i % 30)} ok ✓\r\n`])}\n`;
    lines.push(line);
    n += Buffer.byteLength(line);
  }
  return lines.join('');
}

export const recording: Scenario = {
  name: 'recording',
  description: 'a 200 MB session.cast written over time to S3: bytes uploaded / size, drain time, peak RSS (vs re-uploading the whole file each interval)',
  async run(ctx) {
    const totalBytes = ctx.int('BENCH_RECORDING_BYTES', 200_000_000);
    const seconds = ctx.int('BENCH_RECORDING_SECONDS', 60);
    const syncMs = ctx.int('BENCH_RECORDING_SYNC_MS', 10_000);
    const s3 = await startS3();
    const db = await startBenchDb();
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: s3.env.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: s3.env.AWS_SECRET_ACCESS_KEY, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' });
    const store = await createObjectStore({ bucket: s3.bucket, region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true });
    try {
      const dir = join(ctx.workDir, 'ferry');
      await mkdir(join(dir, 'runtime'), { recursive: true });
      const cast = join(dir, 'runtime', 'session.cast');
      await writeFile(cast, `${JSON.stringify({ version: 2, width: 120, height: 40, timestamp: 1763892000 })}\n`);
      const receiver = await startReceiverProcess(db.url, BENCH_TOKEN, { ...s3.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' });
      const shipper = startShipperProcess({
        ...s3.shipperEnv, RECORDING_SYNC_INTERVAL_MS: String(syncMs),
        WORKSPACE_ID: WORKSPACE, DASHBOARD_SERVICE_URL: receiver.url, INGEST_TOKEN: BENCH_TOKEN, RUNTIME_DIR: join(dir, 'runtime'), STATE_DIR: join(dir, 'state'),
      });
      const stats = sampleProcess(shipper.pid!);
      const exited = new Promise<number | null>((r) => shipper.once('exit', (code) => r(code)));

      // The naive recorder uploads the whole file every interval (the same file, in this process).
      let naiveUploads = 0;
      const naiveEvents = { onMultipartStarted: () => undefined, onMultipartFinished: () => undefined };
      let writing = true;
      let naiveTick: () => void = () => undefined;
      const naive = (async () => {
        for (;;) {
          await new Promise<void>((r) => {
            naiveTick = r;
            setTimeout(r, syncMs);
          });
          if (!writing) return;
          const size = (await stat(cast)).size;
          naiveUploads++;
          const file = await open(cast);
          try {
            await store.upload('naive/session.cast', { source: { read: async (into, length, position) => (await file.read(into, 0, length, position)).bytesRead }, start: 0, size }, {}, naiveEvents);
          } finally {
            await file.close();
          }
        }
      })();

      ctx.progress(`writing ${(totalBytes / 1e6).toFixed(0)} MB of recording over ${seconds} s (sync every ${syncMs / 1000} s)`);
      const ticks = seconds * 10;
      const t0 = performance.now();
      for (let i = 0; i < ticks; i++) {
        await new Promise((r) => setTimeout(r, Math.max(0, t0 + (i + 1) * 100 - performance.now())));
        await appendFile(cast, castChunk(i / 10, totalBytes / ticks));
      }
      writing = false;
      naiveTick();
      const size = (await stat(cast)).size;
      const uploadedBeforeStop = s3.bytesReceived('recordings/');

      ctx.progress('SIGTERM: the shipper uploads the whole file and exits');
      const stopAt = performance.now();
      shipper.kill('SIGTERM');
      const code = await exited;
      const drainSeconds = (performance.now() - stopAt) / 1000;
      const peak = stats.stop();
      // A naive upload still in flight at SIGTERM competed with the drain; it is the naive's cost.
      await naive;
      await receiver.stop();

      const durable = (await store.head(primaryFinalKey(WORKSPACE))) !== undefined;
      const identical = durable && (await sha256(await store.read(primaryFinalKey(WORKSPACE)))) === (await sha256(createReadStream(cast)));
      const ferryBytes = s3.bytesReceived('recordings/');
      const rows: Array<Record<string, string | number>> = [
        { method: 'ferry (segments while growing, one object at the end)', 'file MB': size / 1e6, 'uploaded MB': ferryBytes / 1e6, 'uploaded / size': ferryBytes / size, 'uploaded before SIGTERM MB': uploadedBeforeStop / 1e6, 'SIGTERM → exit s': Number(drainSeconds.toFixed(2)), 'exit code': code ?? -1, 'peak RSS MiB': peak.peakRssBytes / MIB, 'CPU s': peak.cpuSeconds },
        { method: `naive: whole file every ${syncMs / 1000} s`, 'file MB': size / 1e6, 'uploaded MB': s3.bytesReceived('naive/') / 1e6, 'uploaded / size': s3.bytesReceived('naive/') / size, uploads: naiveUploads },
      ];
      const table = printTable(`recording: ${(size / 1e6).toFixed(0)} MB session.cast written over ${seconds} s`, rows);
      const verdicts = [
        { target: 'uploaded / size <= 2.0', measured: (ferryBytes / size).toFixed(2), met: ferryBytes / size <= 2.0 },
        { target: 'exit 0 with the whole file durable and byte-identical', measured: `exit ${code}, ${identical ? 'identical' : 'NOT identical'}`, met: code === 0 && identical },
        { target: 'shipper peak RSS <= 128 MiB', measured: `${(peak.peakRssBytes / MIB).toFixed(0)} MiB`, met: peak.peakRssBytes / MIB <= 128 },
      ];
      printTable('targets', verdicts.map((v) => ({ ...v, met: v.met ? 'yes' : 'NO' })));
      const charts = [barsFromRows('uploaded', 'recording: bytes uploaded / file size', 'uploaded / size', rows, 'uploaded / size', (m) => m.startsWith('naive')), ...processCharts('shipper', 'ferry-shipper with the recording pipeline', [{ name: 'ferry-shipper', summary: peak }])];
      return { table, rows, verdicts, charts };
    } finally {
      store.destroy();
      await db.close();
      await s3.destroy();
    }
  },
};
