// A fault-injecting TCP proxy on loopback. It forwards each connection to one
// of its targets (round-robin over those that accept), and on command resets
// every connection, stalls all traffic (connections stay open, nothing moves),
// or delays every chunk (a slow network, or a slow database behind it).

import { connect, createServer, type Server, type Socket } from 'node:net';

export interface FaultProxy {
  port: number;
  /** Destroys every open connection with a TCP reset; new ones are reset too for `forMs`. */
  reset(forMs?: number): void;
  /** Holds all bytes in both directions for `ms`, then lets them through. */
  stall(ms: number): Promise<void>;
  /** Delays every chunk by `ms` while `forMs` lasts. */
  slow(ms: number, forMs: number): Promise<void>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startProxy(targets: () => number[]): Promise<FaultProxy> {
  const open = new Set<Socket>();
  let resetUntil = 0;
  let held: Promise<void> | undefined;
  let delayMs = 0;
  let next = 0;

  /** Forwards chunks in order, each after the current hold and delay. */
  function pump(from: Socket, to: Socket): void {
    let chain = Promise.resolve();
    from.on('data', (chunk: Buffer) => {
      from.pause();
      chain = chain.then(async () => {
        if (held) await held;
        if (delayMs > 0) await sleep(delayMs);
        if (!to.destroyed) to.write(chunk);
        from.resume();
      });
    });
    from.on('end', () => void chain.then(() => to.end()));
  }

  const server: Server = createServer((client) => {
    if (Date.now() < resetUntil) {
      client.resetAndDestroy();
      return;
    }
    const ports = targets();
    const port = ports[next++ % Math.max(1, ports.length)];
    if (port === undefined) {
      client.destroy();
      return;
    }
    const upstream = connect(port, '127.0.0.1');
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('close', () => {
        open.delete(s);
        client.destroy();
        upstream.destroy();
      });
      s.on('error', () => undefined);
    }
    pump(client, upstream);
    pump(upstream, client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;

  return {
    port,
    reset(forMs = 0) {
      resetUntil = Date.now() + forMs;
      for (const s of open) s.resetAndDestroy();
    },
    async stall(ms) {
      let release!: () => void;
      held = new Promise((r) => (release = r));
      await sleep(ms);
      held = undefined;
      release();
    },
    async slow(ms, forMs) {
      delayMs = ms;
      await sleep(forMs);
      delayMs = 0;
    },
    async close() {
      for (const s of open) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
