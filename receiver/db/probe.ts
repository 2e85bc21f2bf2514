// Is PostgreSQL answering? A dedicated connection, outside the pool that COPYs
// and catch-ups keep busy, asks `SELECT 1` every PROBE_INTERVAL_MS and gives
// each answer PROBE_TIMEOUT_MS. Its verdict feeds database_up, /readyz, and
// the receiver's fast refusals: once the database is known unreachable,
// waiting and new requests get 503 at once instead of a connection timeout
// each. A failed probe closes its connection outright (a black-holed socket
// would hold a graceful close forever) and opens a new one next time.

import pg from 'pg';

export const PROBE_INTERVAL_MS = 2_000;
export const PROBE_TIMEOUT_MS = 2_000;
/** Failures in a row that make an outage (2 to 4 s): one alone is a blip. */
export const FAILURES_FOR_DOWN = 2;

export interface DatabaseProbe {
  /** False once FAILURES_FOR_DOWN probes in a row failed, until one succeeds; true before the first verdict. */
  up(): boolean;
  /** When the last probe succeeded (performance.now()), or undefined. */
  lastSuccess(): number | undefined;
  stop(): Promise<void>;
}

export function createDatabaseProbe(databaseUrl: string, onChange: (up: boolean, err?: unknown) => void): DatabaseProbe {
  let client: pg.Client | undefined;
  /** Undefined until the first verdict. */
  let up: boolean | undefined;
  let failures = 0;
  let lastSuccess: number | undefined;
  let stopped = false;
  let running: Promise<void> = Promise.resolve();

  function drop(): void {
    const stream = (client as unknown as { connection?: { stream?: { destroy(): void } } } | undefined)?.connection?.stream;
    stream?.destroy();
    client = undefined;
  }

  async function ask(): Promise<void> {
    if (!client) {
      const fresh = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: PROBE_TIMEOUT_MS, query_timeout: PROBE_TIMEOUT_MS, application_name: 'ferry-receiver-probe' });
      fresh.on('error', () => undefined);
      client = fresh;
      await fresh.connect();
    }
    await client.query('SELECT 1');
  }

  async function probe(): Promise<void> {
    try {
      await ask();
      lastSuccess = performance.now();
      failures = 0;
      if (up !== true) {
        up = true;
        onChange(true);
      }
    } catch (err) {
      drop();
      if (up !== false && ++failures >= FAILURES_FOR_DOWN) {
        up = false;
        onChange(false, err);
      }
    }
  }

  const timer = setInterval(() => {
    running = running.then(() => (stopped ? undefined : probe()));
  }, PROBE_INTERVAL_MS);
  running = probe();

  return {
    up: () => up !== false,
    lastSuccess: () => lastSuccess,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
      await client?.end().catch(() => undefined);
      drop();
    },
  };
}
