// The naive peer of seed 001: one HTTP request per event, one INSERT per
// event, autocommit, no validation and no status fold. POST /<stream> with
// the line's JSON plus workspace_id. A baseline for the benchmarks, not a product.

import { createServer } from 'node:http';
import pg from 'pg';

type Line = Record<string, unknown>;
const json = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(v));
const INSERTS: Record<string, { sql: string; values(e: Line): unknown[] }> = {
  '/commands': { sql: 'INSERT INTO command_log (workspace_id, command, exit_code, timestamp) VALUES ($1, $2, $3, $4)', values: (e) => [e.workspace_id, e.command, e.exit_code, e.timestamp] },
  '/events': { sql: 'INSERT INTO state_timeline (workspace_id, event_type, step_id, data, timestamp) VALUES ($1, $2, $3, $4, $5)', values: (e) => [e.workspace_id, e.event_type, e.step_id ?? null, json(e.data), e.timestamp] },
  '/llm': {
    sql: 'INSERT INTO llm_interactions (workspace_id, step_id, student_question, prompt_context, response, model, requested_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
    values: (e) => [e.workspace_id, e.step_id, e.student_question ?? null, json(e.prompt_context), e.response, e.model, e.requested_at],
  },
};

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const server = createServer((req, res) => {
  const insert = INSERTS[req.url ?? ''];
  if (req.method !== 'POST' || !insert) return void res.writeHead(404).end();
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const e = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Line;
    pool.query(insert.sql, insert.values(e)).then(
      () => { res.writeHead(201).end('{}'); },
      (err: Error) => { res.writeHead(500).end(err.message); },
    );
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ msg: 'naive receiver listening', url: `http://127.0.0.1:${(server.address() as { port: number }).port}` })}\n`);
});
process.on('SIGTERM', () => server.close(() => pool.end().then(() => process.exit(0))));
