// One client address holds at most MAX_CONNECTIONS_PER_PEER sockets on a
// replica. A workspace pod that opens connections and never finishes a
// request (each one memory until REQUEST_TIMEOUT_MS closes it) gets its
// further ones closed as soon as they are accepted, counted, while the other
// pods' shippers are served as usual. A proxy named in TRUST_PROXY carries
// many clients and is not counted. Loopback gives each actor its own
// address: 127.0.0.2 is the flooding pod, 127.0.0.3 the proxy.

import { connect, createServer, type Socket } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { capConnectionsPerPeer } from '../../receiver/limits/peer-connections.js';
import { freshDatabase } from '../helpers/database.js';
import { postLines } from '../helpers/http.js';
import { startTestReceiver } from '../helpers/receiver.js';
import { waitFor } from '../helpers/wait.js';

const CAP = 4;
const POD = '127.0.0.2';
const PROXY = '127.0.0.3';

interface Held {
  socket: Socket;
  /** Whether the receiver closed it, and whether it wrote anything first. */
  closed: boolean;
  answered: boolean;
}

let base: string;
const opened: Held[] = [];

/** `n` connections from `from`, each with a request that never ends. */
async function openStalled(from: string, n: number): Promise<Held[]> {
  const { hostname, port } = new URL(base);
  const held = await Promise.all(Array.from({ length: n }, () => new Promise<Held>((resolve) => {
    const socket = connect({ host: hostname, port: Number(port), localAddress: from });
    const h: Held = { socket, closed: false, answered: false };
    socket.on('data', () => (h.answered = true));
    socket.on('error', () => undefined);
    socket.on('close', () => (h.closed = true));
    socket.once('connect', () => {
      socket.write('POST /ingest/commands HTTP/1.1\r\nHost: receiver\r\nX-Pad: ');
      resolve(h);
    });
  })));
  opened.push(...held);
  return held;
}

async function refusedTotal(): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return Number(/^ferry_receiver_connections_refused_total (\d+)$/m.exec(text)?.[1]);
}

const settled = (held: Held[], open: number) => waitFor(() => held.filter((h) => !h.closed).length === open && held.filter((h) => h.closed).length === held.length - open, `${open} of ${held.length} connections left open`, 5_000, 20);

beforeAll(async () => {
  const receiver = await startTestReceiver(await freshDatabase(), { maxConnectionsPerPeer: CAP, trustProxy: `${PROXY}, 10.0.0.0/8` });
  base = receiver.url;
});

afterEach(async () => {
  for (const h of opened.splice(0)) h.socket.destroy();
  // The receiver counts a socket down when it sees it close.
  await new Promise((r) => setTimeout(r, 100));
});

describe('a pod that opens connections and never finishes a request', () => {
  it('keeps only MAX_CONNECTIONS_PER_PEER of them; the rest are closed at once, unanswered, and counted', async () => {
    const before = await refusedTotal();
    const held = await openStalled(POD, 50);
    await settled(held, CAP);
    expect(held.filter((h) => h.closed).every((h) => !h.answered)).toBe(true);
    expect(await refusedTotal()).toBe(before + 50 - CAP);
  });

  it('does not hold back another pod: its shipper is served while the flood goes on', async () => {
    const held = await openStalled(POD, 30);
    await settled(held, CAP);
    const sent = await postLines(base, 'commands', '{"command":"ls","exit_code":0,"timestamp":1763892000}\n', { workspace: 'ws-neighbour' });
    expect(sent.status).toBe(200);
  });

  it('may connect again once it holds fewer', async () => {
    const first = await openStalled(POD, CAP);
    await settled(first, CAP);
    first[0]!.socket.destroy();
    await new Promise((r) => setTimeout(r, 100));
    const again = await openStalled(POD, 2);
    await settled(again, 1);
  });
});

it('reports a refused address at most once a minute, however often it tries', async () => {
  let now = 0;
  const reports: boolean[] = [];
  const server = createServer(() => undefined);
  capConnectionsPerPeer(server, { max: 1, exempt: [], onRefused: (_address, report) => reports.push(report), now: () => now });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const attempt = () => new Promise<void>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: (server.address() as { port: number }).port, localAddress: POD });
    socket.on('error', () => undefined).once('connect', () => resolve());
    opened.push({ socket, closed: false, answered: false });
  });
  try {
    await attempt();
    const times = [0, 1_000, 59_999, 60_000, 61_000];
    for (const [i, t] of times.entries()) {
      now = t;
      await attempt();
      await waitFor(() => reports.length === i + 1, `refusal ${i + 1}`);
    }
    expect(reports).toEqual([true, false, false, true, false]);
  } finally {
    for (const h of opened) h.socket.destroy();
    await new Promise((r) => server.close(r));
  }
});

it('does not count a proxy named in TRUST_PROXY: its connections carry many clients', async () => {
  const held = await openStalled(PROXY, 3 * CAP);
  await new Promise((r) => setTimeout(r, 300));
  expect(held.filter((h) => h.closed)).toEqual([]);
});
