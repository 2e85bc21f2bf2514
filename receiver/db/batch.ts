// Several statements in one round trip. node-postgres sends a statement and
// waits for its answer before the next, so a transaction of BEGIN, a lock, a
// COPY, three small statements and COMMIT costs seven round trips, and the
// connection sits "idle in transaction" between them while the receiver's
// event loop gets to the answer. Here every statement is written at once in
// the extended query protocol (Parse, Bind, Execute each, COPY data right
// behind its COPY), followed by a single Sync: PostgreSQL runs them in order
// and answers once. The protocol allows COPY data before the server asked for
// it: if an earlier statement failed, the server discards everything up to
// the Sync, COPY data included. Statements are unnamed (nothing prepared
// stays on the connection), so PgBouncer in transaction mode can pass them.

import pg from 'pg';

/** A statement with parameters; its rows come back as text. */
export interface SqlStep {
  sql: string;
  values?: unknown[];
}

/** `COPY ... FROM STDIN` and its data, in COPY text format. */
export interface CopyStep {
  copy: string;
  data: readonly Buffer[];
}

export type Step = SqlStep | CopyStep;

export interface StepResult {
  /** The command tag: `COPY 12`, `SELECT 1`, `COMMIT`. */
  command: string;
  rows: Record<string, string | null>[];
  /** When its answer arrived (performance.now()): what PostgreSQL spent on a step is the gap to the one before. */
  doneAt: number;
}

// pg's own conversion of parameter values (arrays, buffers, JSON), as its Query uses it.
const { prepareValue } = (pg as unknown as { utils: { prepareValue(v: unknown): string | Buffer | null } }).utils;

const COPY_DATA = 0x64;

/**
 * Runs `steps` in one round trip and resolves with one result per step when
 * the server is ready again; rejects with the first statement that failed
 * (the ones after it did not run). Statements run in the transaction the
 * connection is in, or, with none open, in one implicit transaction.
 */
export function runBatch(client: pg.ClientBase, steps: readonly Step[]): Promise<StepResult[]> {
  return new Promise((resolve, reject) => {
    // Values are converted before anything is written: a throw half-way would leave the protocol without its Sync.
    const values = steps.map((s) => ('sql' in s ? (s.values ?? []).map((v) => prepareValue(v)) : []));
    const results: StepResult[] = [];
    let fields: string[] = [];
    let rows: StepResult['rows'] = [];
    let failed = false;
    const submittable = {
      submit(connection: pg.Connection) {
        connection.stream.cork();
        steps.forEach((step, i) => {
          connection.parse({ text: 'sql' in step ? step.sql : step.copy, name: '', types: [] }, false);
          connection.bind({ values: values[i] } as pg.BindConfig, false);
          if ('sql' in step) connection.describe({ type: 'P' }, false);
          connection.execute({}, false);
          if ('copy' in step) {
            for (const chunk of step.data) {
              if (chunk.length === 0) continue;
              const header = Buffer.allocUnsafe(5);
              header[0] = COPY_DATA;
              header.writeUInt32BE(chunk.length + 4, 1);
              connection.stream.write(header);
              connection.stream.write(chunk);
            }
            (connection as unknown as { endCopyFrom(): void }).endCopyFrom();
          }
        });
        connection.sync();
        connection.stream.uncork();
      },
      handleRowDescription(msg: { fields: Array<{ name: string }> }) {
        fields = msg.fields.map((f) => f.name);
      },
      handleDataRow(msg: { fields: Array<string | null> }) {
        rows.push(Object.fromEntries(fields.map((name, i) => [name, msg.fields[i] ?? null])));
      },
      handleCommandComplete(msg: { text: string }) {
        results.push({ command: msg.text, rows, doneAt: performance.now() });
        rows = [];
        fields = [];
      },
      // The data went out with the statement.
      handleCopyInResponse() {},
      handleCopyData() {},
      handleEmptyQuery() {},
      handlePortalSuspended() {},
      handleError(err: Error) {
        failed = true;
        reject(err);
      },
      handleReadyForQuery() {
        if (!failed) resolve(results);
      },
    };
    client.query(submittable as unknown as pg.Submittable);
  });
}
