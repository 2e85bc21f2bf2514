// A client that sends `Expect: 100-continue` holds its body back until it is
// told to go on. Node's server tells it at once; the receiver tells it only
// when the body is about to be read (body.ts). A request refused from its
// headers (401, 413, 429, 503) is then answered before any byte of its body
// is sent: the client reads the answer instead of losing it to a connection
// reset over the unread body, and a refused body never crosses the network.

import type { IncomingMessage, Server, ServerResponse } from 'node:http';

const held = new WeakMap<IncomingMessage, ServerResponse>();

export function continueWhenRead(server: Server): void {
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    held.set(req, res);
    server.emit('request', req, res);
  });
}

/** Tells a client that waits for it to send its body; nothing for any other. */
export function allowBody(req: IncomingMessage): void {
  held.get(req)?.writeContinue();
  held.delete(req);
}
