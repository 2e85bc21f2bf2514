// Wakes every replica's stream after a batch commits: NOTIFY on a pooled
// connection, in a transaction of its own. A NOTIFY inside the ingest
// transaction would hold PostgreSQL's database-wide notification lock through
// that transaction's commit (its WAL flush included), serializing every
// ingest commit behind every other. Pokes that arrive while one is in flight
// are coalesced into one more.

import type pg from 'pg';

/** The NOTIFY channel. Its payload is empty: the events are read from the table, in order. */
export const STREAM_CHANNEL = 'ferry_stream';

export interface Notifier {
  poke(): void;
}

export function createNotifier(pool: pg.Pool, onError: (err: unknown) => void): Notifier {
  let sending = false;
  let pending = false;
  async function send(): Promise<void> {
    sending = true;
    try {
      do {
        pending = false;
        await pool.query(`NOTIFY ${STREAM_CHANNEL}`).catch(onError);
      } while (pending);
    } finally {
      sending = false;
    }
  }
  return {
    poke() {
      if (sending) pending = true;
      else void send();
    },
  };
}
