// LISTEN on a connection of its own (a session: through PgBouncer in
// transaction mode it must bypass the pooler, see STREAM_DATABASE_URL). Every
// other replica's notification, and every reconnection (notifications sent
// while it was down are gone), wakes the reader, which then reads from where
// it was.

import pg from 'pg';
import { STREAM_CHANNEL } from './notifier.js';

const RECONNECT_MS = { first: 250, max: 5_000 };

export interface ListenerHooks {
  /** Notifications with this payload are this replica's own: it woke when it sent them. */
  self: string;
  onWake(): void;
  onError(err: unknown, attempt: number): void;
}

export interface Listener {
  stop(): Promise<void>;
}

export function listen(databaseUrl: string, hooks: ListenerHooks): Listener {
  let stopped = false;
  let client: pg.Client | undefined;
  let retry: NodeJS.Timeout | undefined;
  let attempt = 0;

  async function connect(): Promise<void> {
    retry = undefined;
    const c = new pg.Client({ connectionString: databaseUrl, application_name: 'ferry-receiver-stream' });
    client = c;
    c.on('notification', (n) => {
      if (n.payload !== hooks.self) hooks.onWake();
    });
    c.on('error', (err) => lost(c, err));
    c.on('end', () => lost(c, new Error('LISTEN connection ended')));
    try {
      await c.connect();
      await c.query(`LISTEN ${STREAM_CHANNEL}`);
      attempt = 0;
      hooks.onWake();
    } catch (err) {
      lost(c, err);
    }
  }

  function lost(c: pg.Client, err: unknown): void {
    if (stopped || client !== c || retry) return;
    client = undefined;
    c.end().catch(() => undefined);
    attempt++;
    hooks.onError(err, attempt);
    retry = setTimeout(() => void connect(), Math.min(RECONNECT_MS.first * 2 ** (attempt - 1), RECONNECT_MS.max));
  }

  void connect();
  return {
    async stop() {
      stopped = true;
      clearTimeout(retry);
      await client?.end().catch(() => undefined);
    },
  };
}
