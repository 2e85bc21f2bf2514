// npm run demo: the whole pipeline on one machine. An embedded PostgreSQL, the
// receiver, a simulated workspace writing its runtime files, and the real
// ferry-shipper process tailing them. Prints what arrives; Ctrl-C stops all.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadConfig } from '../shared/env.js';
import { createLogger } from '../shared/log.js';
import { RECEIVER_SPEC } from '../receiver/config.js';
import { startReceiver } from '../receiver/receiver.js';
import { startPostgres } from './embedded-postgres.js';
import { freePort } from './free-port.js';
import { simulateWorkspace } from './workspace-simulator.js';

const say = (text: string) => process.stdout.write(`${text}\n`);
const WORKSPACE = 'demo-workspace';

say('ferry demo: starting an embedded PostgreSQL ...');
const postgres = await startPostgres();
const databaseUrl = await postgres.createDatabase('ferry');
const token = randomBytes(12).toString('hex');
const config = loadConfig(RECEIVER_SPEC, { DATABASE_URL: databaseUrl, INGEST_TOKEN: token, HOST: '127.0.0.1', PORT: process.env.PORT ?? '8080', LOG_LEVEL: 'error' });
const receiver = await startReceiver(config, createLogger('ferry-receiver', config.logLevel));
await receiver.ready;

const root = await mkdtemp(join(tmpdir(), 'ferry-demo-'));
const runtimeDir = join(root, 'runtime');
const simulator = await simulateWorkspace(runtimeDir, { commandsPerSecond: 5 });
const metricsPort = await freePort();
const shipper = spawn(process.execPath, [fileURLToPath(new URL('../shipper/main.js', import.meta.url))], {
  env: {
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
database:   ${databaseUrl}
token:      ${token}

A simulated workspace "${WORKSPACE}" is writing commands, state events and tutor
calls; the shipper tails them into the receiver. Post a line yourself with:
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
  say(`written ${w.commands}/${w.events}/${w.llm}  stored command_log=${r.commands} state_timeline=${r.events} llm_interactions=${r.llm}  current_step=${r.step ?? '-'}  shipper lag=${(await lagBytes()) ?? '?'} B`);
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
  await db.end();
  await receiver.stop();
  await postgres.destroy();
  await rm(root, { recursive: true, force: true });
  process.exit(0);
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
