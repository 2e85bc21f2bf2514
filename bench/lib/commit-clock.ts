// When does a line become visible in PostgreSQL? A statement trigger on
// command_log sends NOTIFY with the sequence numbers of the new rows; NOTIFY
// is delivered at commit, which is the moment the rows become visible.

import pg from 'pg';

const CHANNEL = 'ferry_bench_commit';

export interface CommitClock {
  /** Epoch milliseconds at which each sequence number became visible. */
  seen: Map<number, number>;
  close(): Promise<void>;
}

/** Lines carry their sequence number as the command's last word: `... #123`. */
export async function startCommitClock(databaseUrl: string): Promise<CommitClock> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  await client.query(`
    CREATE OR REPLACE FUNCTION ferry_bench_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('${CHANNEL}', (SELECT string_agg(substring(command from '#([0-9]+)$'), ',') FROM new_rows));
      RETURN NULL;
    END $$;
    DROP TRIGGER IF EXISTS ferry_bench_commit ON command_log;
    CREATE TRIGGER ferry_bench_commit AFTER INSERT ON command_log REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ferry_bench_notify();`);
  const seen = new Map<number, number>();
  client.on('notification', (n) => {
    const at = performance.timeOrigin + performance.now();
    for (const seq of (n.payload ?? '').split(',')) if (seq) seen.set(Number(seq), at);
  });
  await client.query(`LISTEN ${CHANNEL}`);
  return {
    seen,
    async close() {
      await client.query('DROP TRIGGER IF EXISTS ferry_bench_commit ON command_log');
      await client.end();
    },
  };
}
