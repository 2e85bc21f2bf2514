// Wakes every replica's stream after a batch commits: NOTIFY on a pooled
// connection, in a transaction of its own. A NOTIFY inside the ingest
// transaction would hold PostgreSQL's database-wide notification lock through
// that transaction's commit (its WAL flush included), serializing every
// ingest commit behind every other. Pokes that arrive while one is in flight
// are coalesced into one more.
//
// A NOTIFY is a transaction with a commit record of its own; committed
// without waiting for its WAL flush, it is one round trip and no disk wait.
// Nothing is lost by that: the events it announces were committed (and
// flushed) by the ingest transaction before, and a notification lost in a
// crash is one every listener makes up for when it reconnects.

import type pg from 'pg';

/** The NOTIFY channel. The events are read from the table, in order; the payload names the sending replica, which need not wake itself again. */
export const STREAM_CHANNEL = 'ferry_stream';

export interface Notifier {
  poke(): void;
}

/** `sender`: this replica's name in the payload (letters and digits). */
export function createNotifier(pool: pg.Pool, sender: string, onError: (err: unknown) => void): Notifier {
  const sql = `BEGIN; SET LOCAL synchronous_commit = off; NOTIFY ${STREAM_CHANNEL}, '${sender}'; COMMIT`;
  let sending = false;
  let pending = false;
  async function send(): Promise<void> {
    sending = true;
    try {
      do {
        pending = false;
        await pool.query(sql).catch(onError);
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
