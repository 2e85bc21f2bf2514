// A database whose log tables are partitioned interval by interval over the
// past `days` days, the layout a receiver reaches after running that long,
// instead of the one history partition a new database starts with. For the
// read tests and the growth benchmark.

import type pg from 'pg';
import { ensurePartitions, PARTITIONED_TABLES, type PartitionPolicy } from '../receiver/db/partitions.js';

const DAY_MS = 86_400_000;

export async function spanPartitions(pool: pg.Pool, policy: PartitionPolicy, days: number, now = Date.now()): Promise<void> {
  for (const table of PARTITIONED_TABLES) {
    const history = `${table}_history`;
    if ((await pool.query(`SELECT 1 FROM ${history} LIMIT 1`)).rowCount !== 0) throw new Error(`${history} holds rows: spanPartitions is for a new database`);
    await pool.query(`DROP TABLE ${history}`);
  }
  // Without a retention, the first call starts the partitions `days` back and the second fills up to now and ahead.
  const keepAll = { ...policy, retentionMs: Object.fromEntries(PARTITIONED_TABLES.map((t) => [t, 0])) as PartitionPolicy['retentionMs'] };
  await ensurePartitions(pool, keepAll, now - days * DAY_MS);
  await ensurePartitions(pool, keepAll, now);
}
