// A receiver that accepts and discards: the shipper-alone benchmark measures
// the shipper, not PostgreSQL. It answers like ferry-receiver (next_offset
// is where the request ended) and counts what it got.

import { createServer } from 'node:http';

let bytes = 0;
let requests = 0;
const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url?.startsWith('/ingest/offsets')) {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"offsets":[]}');
    return;
  }
  if (req.method === 'GET' && req.url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ bytes, requests }));
    return;
  }
  let n = 0;
  req.on('data', (c: Buffer) => (n += c.length));
  req.on('end', () => {
    bytes += n;
    requests++;
    const offset = Number(req.headers['x-source-offset'] ?? 0);
    res.writeHead(200, { 'content-type': 'application/json' }).end(`{"accepted":0,"duplicates":0,"rejected":0,"next_offset":${offset + n}}`);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ msg: 'discard receiver listening', url: `http://127.0.0.1:${(server.address() as { port: number }).port}` })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
