// npm run demo: the whole pipeline on one machine. An embedded PostgreSQL (or
// the database DATABASE_URL names), the receiver, a simulated workspace writing
// its runtime files, and the real ferry-shipper process tailing them. Prints
// what arrives; Ctrl-C stops all.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadConfig } from '../shared/env.js';
import { createLogger } from '../receiver/log.js';
import { RECEIVER_SPEC } from '../receiver/config.js';
import { startReceiver } from '../receiver/receiver.js';
import { exitIfUnavailable, startPostgres } from './embedded-postgres.js';
import { startS3 } from './embedded-s3.js';
import { freePort } from './free-port.js';
import { simulateWorkspace } from './workspace-simulator.js';

const say = (text: string) => process.stdout.write(`${text}\n`);
const WORKSPACE = 'demo-workspace';
// The AWS SDK warns on Node 20 that its releases after January 2027 need Node 22;
// the locked version runs here, and the demo's output stays readable.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const external = process.env.DATABASE_URL;
say(external ? 'ferry demo: using the database DATABASE_URL names ...' : 'ferry demo: starting an embedded PostgreSQL ...');
const postgres = external ? undefined : await startPostgres().catch((error) => exitIfUnavailable(error, 'Set DATABASE_URL to a database on an existing PostgreSQL to run the demo on it.'));
const databaseUrl = external ?? await postgres!.createDatabase('ferry');
say('ferry demo: starting an embedded S3-compatible store (s3rver) ...');
const s3 = await startS3();
const token = randomBytes(12).toString('hex');
const readToken = randomBytes(12).toString('hex');
const config = loadConfig(RECEIVER_SPEC, { ...s3.env, DATABASE_URL: databaseUrl, INGEST_TOKEN: token, READ_TOKEN: readToken, HOST: '127.0.0.1', PORT: process.env.PORT ?? '8080', LOG_LEVEL: 'error' });
// The receiver reads recordings with the store's credentials (and writes with its writer identity, from s3.env); the shipper holds none.
Object.assign(process.env, { AWS_ACCESS_KEY_ID: s3.env.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: s3.env.AWS_SECRET_ACCESS_KEY });
const receiver = await startReceiver(config, createLogger('ferry-receiver', config.logLevel));
await receiver.ready;

const root = await mkdtemp(join(tmpdir(), 'ferry-demo-'));
const runtimeDir = join(root, 'runtime');
const simulator = await simulateWorkspace(runtimeDir, { commandsPerSecond: 5 });
const metricsPort = await freePort();
const shipper = spawn(process.execPath, [fileURLToPath(new URL('../shipper/main.js', import.meta.url))], {
  env: {
    ...s3.shipperEnv, RECORDING_SYNC_INTERVAL_MS: '5000', RECORDING_IDLE_MS: '60000',
    PATH: process.env.PATH, WORKSPACE_ID: WORKSPACE, DASHBOARD_SERVICE_URL: receiver.url, INGEST_TOKEN: token,
    RUNTIME_DIR: runtimeDir, STATE_DIR: join(root, 'state'), METRICS_HOST: '127.0.0.1', METRICS_PORT: String(metricsPort), LOG_LEVEL: 'warn',
  },
  stdio: ['ignore', 'inherit', 'inherit'],
  // Its own process group: Ctrl-C reaches the demo, which then drains the shipper with SIGTERM, as Kubernetes would.
  detached: true,
});

say(`
receiver:   ${receiver.url}   (metrics: ${receiver.url}/metrics)
shipper:    pid ${shipper.pid}, tailing ${runtimeDir}   (metrics: http://127.0.0.1:${metricsPort}/metrics)
database:   ${external ? 'the one DATABASE_URL names' : databaseUrl}
S3 store:   ${s3.endpoint}, bucket ${s3.bucket}
token:      ${token}   (read token: ${readToken})

A simulated workspace "${WORKSPACE}" is writing commands, state events, tutor
calls and its terminal recording; the shipper tails them into the receiver and
the bucket. Open the live page (it updates as batches commit):
  ${receiver.url}/?token=${readToken}
Follow the live stream, or watch the recording as it is synced:
  curl -sN '${receiver.url}/stream?token=${readToken}'
  curl -sS '${receiver.url}/recordings/${WORKSPACE}?token=${readToken}' | tail -3

Post a line yourself with:
  printf '{"command":"hello","exit_code":0,"timestamp":"%s"}\\n' "$(date -u +%FT%TZ)" |
    curl -sS ${receiver.url}/ingest/commands -H 'Authorization: Bearer ${token}' \\
      -H 'Content-Type: application/x-ndjson' -H 'X-Workspace-Id: by-hand' -H 'X-Source-Id: demo-1' \\
      -H 'X-Source-Offset: 0' --data-binary @-

Ctrl-C stops everything (the shipper drains first).
`);

const db = new pg.Pool({ connectionString: databaseUrl, max: 1 });
db.on('error', () => undefined);
async function lagBytes(): Promise<number | undefined> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    return [...text.matchAll(/^ferry_shipper_lag_bytes\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
  } catch {
    return undefined;
  }
}
const status = setInterval(async () => {
  if (stopping) return;
  const { rows } = await db.query(`SELECT (SELECT count(*) FROM command_log) AS commands, (SELECT count(*) FROM state_timeline) AS events,
    (SELECT count(*) FROM llm_interactions) AS llm, (SELECT current_step FROM workspace_status WHERE workspace_id = $1) AS step`, [WORKSPACE]);
  const w = simulator.written();
  const r = rows[0];
  const rec = (await db.query('SELECT last_sync_byte FROM recording_refs WHERE workspace_id = $1', [WORKSPACE])).rows[0];
  say(`written ${w.commands}/${w.events}/${w.llm}  stored command_log=${r.commands} state_timeline=${r.events} llm_interactions=${r.llm}  current_step=${r.step ?? '-'}  shipper lag=${(await lagBytes()) ?? '?'} B  recording ${rec?.last_sync_byte ?? 0}/${w.castBytes} B in S3`);
}, 2000);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  say('\nstopping: the shipper drains, then the receiver and PostgreSQL stop ...');
  clearInterval(status);
  simulator.stop();
  await new Promise<void>((resolve) => {
    shipper.once('exit', (code) => { say(`shipper exited ${code}`); resolve(); });
    shipper.kill('SIGTERM');
  });
  const ref = (await db.query('SELECT storage_path, last_sync_byte FROM recording_refs WHERE workspace_id = $1', [WORKSPACE])).rows[0];
  if (ref) say(`the recording landed at ${ref.storage_path} (${ref.last_sync_byte} bytes, read it with GET /recordings/${WORKSPACE})`);
  await db.end();
  await receiver.stop();
  await postgres?.destroy();
  await s3.destroy();
  await rm(root, { recursive: true, force: true });
  process.exit(0);
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
