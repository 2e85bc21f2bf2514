// DELIVERY_FORMAT=vector: the shipper sends what Vector's http sink sent with
// the seed's config, for dashboard services built for the Vector sidecar.

import { createServer } from 'node:http';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { shipperDirs, shipperEnv, startShipper } from '../helpers/shipper.js';
import { waitFor } from '../helpers/wait.js';

it('posts JSON arrays of {message, file, host, source_type, timestamp, workspace_id}', async () => {
  const received: Array<{ url: string; type: string; body: unknown[] }> = [];
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (d) => (text += d));
    req.on('end', () => {
      received.push({ url: req.url!, type: req.headers['content-type']!, body: JSON.parse(text) });
      res.writeHead(200).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  try {
    const dirs = await shipperDirs();
    await mkdir(dirs.runtimeDir, { recursive: true });
    const lines = ['{"command":"ls","exit_code":0,"timestamp":1}', '{"command":"pwd","exit_code":0,"timestamp":2}'];
    await writeFile(join(dirs.runtimeDir, 'command-log.jsonl'), lines.join('\n') + '\n');
    const shipper = await startShipper(shipperEnv(url, dirs, 'vec-ws', { DELIVERY_FORMAT: 'vector', HOSTNAME: 'workshop-workspace-abc123' }));
    await waitFor(() => received.length > 0, 'a request');
    expect(received[0]!.url).toBe('/ingest/commands');
    expect(received[0]!.type).toBe('application/json');
    expect(received[0]!.body).toEqual(lines.map((message) => ({
      file: join(dirs.runtimeDir, 'command-log.jsonl'), host: 'workshop-workspace-abc123', message, source_type: 'file', timestamp: expect.any(String), workspace_id: 'vec-ws',
    })));
    shipper.child.kill('SIGTERM');
    expect((await shipper.exited).code).toBe(0);
  } finally {
    server.close();
  }
});
