// /metrics, /healthz, /readyz for the kubelet and Prometheus. Readiness does
// not depend on the receiver: a sidecar that is not ready would take the
// student's workspace out of service.

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface OpsServer {
  url: string;
  close(): Promise<void>;
}

export async function startOpsServer(host: string, port: number, registry: Registry, ready: () => boolean): Promise<OpsServer> {
  // Not imported: see ship/http-transport.ts (node:http as an ES module costs 14 MiB on Node 24).
  const server: Server = process.getBuiltinModule('node:http').createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(405, { error: 'method_not_allowed' });
    if (path === '/healthz') return json(200, { status: 'ok' });
    if (path === '/readyz') return ready() ? json(200, { status: 'ready' }) : json(503, { status: 'starting' });
    if (path === '/metrics') {
      registry.metrics().then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text), () => json(500, { error: 'metrics_failed' }));
      return;
    }
    json(404, { error: 'not_found' });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const { address, port: bound } = server.address() as AddressInfo;
  return {
    url: `http://${address === '0.0.0.0' ? '127.0.0.1' : address}:${bound}`,
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
