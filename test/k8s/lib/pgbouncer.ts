// A real PgBouncer (Debian's package, installed by test/setup.sh) in front of
// the run's PostgreSQL, configured by the pgbouncer.ini the Kubernetes overlay
// ships: only its addresses and paths are replaced, so the pooling mode and
// limits under test are the ones a cluster gets.

import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../../../dev/free-port.js';
import { atEnd } from '../../helpers/cleanup.js';
import { waitFor } from '../../helpers/wait.js';
import { K8S_DIR } from './render.js';

const PGBOUNCER = '/usr/sbin/pgbouncer';
/** The user PgBouncer runs as when the tests run as root (it refuses root); the embedded PostgreSQL made it. */
const UNPRIVILEGED_USER = 'postgres';

export interface PgBouncer {
  /** `serverUrl` with host and port replaced by PgBouncer's. */
  url(serverUrl: string): string;
  /** What PgBouncer printed, for failure messages. */
  output(): string;
  /** Rows of a SHOW command on PgBouncer's console (`SHOW CONFIG`, `SHOW SERVERS`). */
  show(what: string): Promise<Array<Record<string, string>>>;
}

/** `ini` with `key = value` set in its [section] (replaced where the key exists). */
function setIni(ini: string, section: string, values: Record<string, string>): string {
  const lines = ini.split('\n');
  const start = lines.findIndex((l) => l.trim() === `[${section}]`);
  let end = lines.findIndex((l, i) => i > start && l.trim().startsWith('['));
  if (end === -1) end = lines.length;
  const body = lines.slice(start + 1, end).filter((l) => !Object.keys(values).includes(l.split('=')[0]!.trim()));
  const set = Object.entries(values).map(([k, v]) => `${k} = ${v}`);
  return [...lines.slice(0, start + 1), ...set, ...body, ...lines.slice(end)].join('\n');
}

/**
 * Starts PgBouncer for `serverUrl`'s PostgreSQL (every database name passes
 * through to the same name), with `pgbouncer` settings overriding the shipped file's.
 */
export async function startPgBouncer(serverUrl: string, pgbouncer: Record<string, string> = {}): Promise<PgBouncer> {
  const server = new URL(serverUrl);
  const dir = await mkdtemp(join(tmpdir(), 'ferry-pgbouncer-'));
  atEnd(() => rm(dir, { recursive: true, force: true }));
  await chmod(dir, 0o755);
  const port = await freePort();
  let ini = await readFile(join(K8S_DIR, 'overlays/pgbouncer/pgbouncer.ini'), 'utf8');
  ini = setIni(ini, 'databases', { '*': `host=${server.hostname} port=${server.port}` });
  ini = setIni(ini, 'pgbouncer', {
    listen_addr: '127.0.0.1', listen_port: String(port), unix_socket_dir: '',
    auth_file: join(dir, 'userlist.txt'), pidfile: join(dir, 'pgbouncer.pid'),
    // Lets the tests read PgBouncer's console.
    stats_users: decodeURIComponent(server.username), ...pgbouncer,
  });
  await writeFile(join(dir, 'pgbouncer.ini'), ini);
  await writeFile(join(dir, 'userlist.txt'), `"${decodeURIComponent(server.username)}" "${decodeURIComponent(server.password)}"\n`);
  // pidfile: PgBouncer (as the unprivileged user) writes it into this folder.
  if (process.getuid?.() === 0) await chmod(dir, 0o777);

  const args = process.getuid?.() === 0 ? ['-u', UNPRIVILEGED_USER, join(dir, 'pgbouncer.ini')] : [join(dir, 'pgbouncer.ini')];
  const child = spawn(PGBOUNCER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  atEnd(async () => {
    child.kill('SIGTERM');
    await exited;
  });

  const url = (of: string) => {
    const u = new URL(of);
    u.hostname = '127.0.0.1';
    u.port = String(port);
    return u.toString();
  };
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`pgbouncer exited: ${output}`);
    const client = new pg.Client({ connectionString: url(serverUrl) });
    await client.connect();
    await client.end();
    return true;
  }, 'PgBouncer to accept connections', 20_000, 100);
  const consoleUrl = new URL(url(serverUrl));
  consoleUrl.pathname = '/pgbouncer';
  const show = async (what: string) => {
    const client = new pg.Client({ connectionString: consoleUrl.toString() });
    await client.connect();
    try {
      // The console speaks the simple query protocol only: no parameters.
      return (await client.query(`SHOW ${what}`)).rows;
    } finally {
      await client.end();
    }
  };
  return { url, output: () => output, show };
}
