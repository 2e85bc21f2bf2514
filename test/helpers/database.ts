import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { atEnd } from './cleanup.js';

/** A new, empty database on the run's PostgreSQL, dropped when the file's tests end. */
export async function freshDatabase(): Promise<string> {
  const admin = inject('pgAdminUrl');
  const name = `ferry_test_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  atEnd(async () => {
    const c = new pg.Client({ connectionString: admin });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
  });
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A pool for assertions; closed when the file's tests end. */
export function queryPool(url: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  atEnd(() => pool.end());
  return pool;
}
