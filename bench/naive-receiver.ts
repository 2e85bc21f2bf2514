// The naive peer of seed 001: one HTTP request per event, one INSERT per
// event, autocommit. A baseline for the ingest benchmarks, not a product.

import { createServer } from 'node:http';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const e = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { workspace_id: string; command: string; exit_code: number; timestamp: string };
    pool.query('INSERT INTO command_log (workspace_id, command, exit_code, timestamp) VALUES ($1, $2, $3, $4)', [e.workspace_id, e.command, e.exit_code, e.timestamp]).then(
      () => { res.writeHead(201).end('{}'); },
      (err: Error) => { res.writeHead(500).end(err.message); },
    );
  });
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ msg: 'naive receiver listening', url: `http://127.0.0.1:${(server.address() as { port: number }).port}` })}\n`);
});
process.on('SIGTERM', () => server.close(() => pool.end().then(() => process.exit(0))));
