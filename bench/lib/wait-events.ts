// What a program's PostgreSQL connections are doing, sampled from
// pg_stat_activity: running, waiting on a lock or on the WAL flush, or idle in
// a transaction while the program works. A profile of a database-bound
// service, where a CPU profile of the service shows nothing.

import type pg from 'pg';
import { every } from './poll.js';

/** The share of busy samples in which a connection waited inside a transaction for the program's next statement. */
export const IDLE_IN_TRANSACTION = 'idle in transaction (the program works)';

const QUERY = `
  SELECT CASE WHEN state = 'idle in transaction' THEN '${IDLE_IN_TRANSACTION}'
              WHEN wait_event IS NULL THEN 'running'
              ELSE wait_event_type || ': ' || wait_event END AS what,
         count(*)::int AS n
  FROM pg_stat_activity WHERE application_name = $1 AND state <> 'idle' GROUP BY 1`;

export interface WaitSampler {
  /** Shares (%) of sampled busy connections by what they were doing, since the last call; and the mean busy connections. */
  take(): { shares: Record<string, number>; busy: number };
  stop(): Promise<void>;
}

export function sampleWaits(pool: pg.Pool, applicationName: string, everyMs = 100): WaitSampler {
  let counts = new Map<string, number>();
  let samples = 0;
  const loop = every(everyMs, async () => {
    const { rows } = await pool.query<{ what: string; n: number }>(QUERY, [applicationName]);
    samples++;
    for (const r of rows) counts.set(r.what, (counts.get(r.what) ?? 0) + r.n);
  });
  return {
    take() {
      const all = [...counts.values()].reduce((a, b) => a + b, 0);
      const shares = Object.fromEntries([...counts].sort((a, b) => b[1] - a[1]).map(([k, n]) => [k, Number(((n / Math.max(1, all)) * 100).toFixed(1))]));
      const busy = samples > 0 ? all / samples : 0;
      counts = new Map();
      samples = 0;
      return { shares, busy };
    },
    stop: () => loop.stop(),
  };
}
