// One transaction on a pooled connection. A connection whose transaction
// failed may be what failed: it is closed, never handed to the next request.
// A transaction that outlives its deadline (a database that accepts bytes and
// never answers: a failover, a partition) has its socket destroyed, so that
// it gives its slot back instead of waiting for TCP to give up; PostgreSQL
// rolls back what a vanished connection left open.

import type pg from 'pg';
import { isDatabaseUnavailable } from './pool.js';

export class TransactionTimeout extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(ms: number) {
    super(`PostgreSQL did not finish the transaction within ${ms} ms; its connection was dropped`);
  }
}

function destroySocket(client: pg.PoolClient): void {
  (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}

/**
 * Runs `work` on a pooled connection, within the deadline. `work` opens and
 * commits its transaction itself (a batch sends BEGIN and COMMIT with its
 * statements); whatever it leaves open when it fails is rolled back.
 */
export async function onConnection<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>, deadlineMs = 0): Promise<T> {
  const client = await pool.connect();
  let timer: NodeJS.Timeout | undefined;
  const overdue = deadlineMs > 0 ? new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      destroySocket(client);
      reject(new TransactionTimeout(deadlineMs));
    }, deadlineMs);
  }) : undefined;
  const working = (async () => work(client))();
  try {
    const out = await (overdue ? Promise.race([working, overdue]) : working);
    client.release();
    return out;
  } catch (err) {
    working.catch(() => undefined);
    // On a connection that is gone, a ROLLBACK would only wait; closing it rolls back.
    if (!isDatabaseUnavailable(err)) await client.query('ROLLBACK').catch(() => undefined);
    client.release(true);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

export async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>, deadlineMs = 0): Promise<T> {
  return onConnection(pool, async (client) => {
    await client.query('BEGIN');
    const out = await work(client);
    await client.query('COMMIT');
    return out;
  }, deadlineMs);
}
