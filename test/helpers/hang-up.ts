// A client that sends an ingest request's headers and half its body, then
// hangs up: what a killed pod, a cut network or an impatient proxy leaves.

import { connect } from 'node:net';

export function hangUpMidBody(port: number, token: string): Promise<void> {
  return new Promise((resolve) => {
    const body = Array.from({ length: 200 }, (_, i) => `${JSON.stringify({ command: `gone ${i}`, exit_code: 0, timestamp: 1 })}\n`).join('');
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(`POST /ingest/commands HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/x-ndjson\r\nX-Workspace-Id: hangs-up\r\nX-Source-Id: g\r\nX-Source-Offset: 0\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, body.length / 2)}`);
      setTimeout(() => socket.destroy(), 50);
    });
    socket.on('close', () => resolve());
    socket.on('error', () => undefined);
  });
}
