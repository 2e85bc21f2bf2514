// Scenario "connection-flood": what one workspace pod can cost a receiver
// without a credential, beside a neighbour that posts a line every 100 ms.
// Stalled connections (a request whose headers never end) held from one
// address, with MAX_CONNECTIONS_PER_PEER off and at its default: the
// receiver's memory. Then, against the default cap, connections churned as
// fast as client loops can against a full cap, requests answered 401, and
// GET /healthz and /metrics on kept connections: the receiver's CPU and the
// neighbour's latency. Everything comes from
// loopback, so the neighbour's address is 127.0.0.2 and the flood's
// 127.0.0.1.

import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { startBenchDb } from '../lib/bench-db.js';
import { cpuSecondsOf, residentParts } from '../lib/proc-stats.js';
import { BENCH_TOKEN, startReceiverProcess, type Program } from '../lib/programs.js';
import { MIB, percentile } from '../lib/stats.js';
import { printTable } from '../lib/table.js';
import type { Row, Scenario } from '../scenario.js';

const CAP = '32';
const NEIGHBOUR = '127.0.0.2';
const STALLED_REQUEST = 'POST /ingest/commands HTTP/1.1\r\nHost: receiver\r\nX-Pad: ';

const rssMiB = (pid: number) => { const r = residentParts(pid); return (r.anonBytes + r.fileBytes) / MIB; };

function port(p: Program): number {
  return Number(new URL(p.url).port);
}

/** `n` connections from loopback, each with a request whose headers never end; resolves once all are accepted or closed. */
async function holdStalled(p: Program, n: number): Promise<{ sockets: Socket[]; open: () => number }> {
  let closed = 0;
  const sockets = await Promise.all(Array.from({ length: n }, () => new Promise<Socket>((resolve) => {
    const s = connect(port(p), '127.0.0.1');
    s.on('error', () => undefined).on('close', () => closed++).resume();
    s.once('connect', () => {
      s.write(STALLED_REQUEST);
      resolve(s);
    }).once('close', () => resolve(s));
  })));
  return { sockets, open: () => n - closed };
}

/** The neighbour: one line every 100 ms for `seconds`, with the ingest token, from its own address. */
async function neighbour(p: Program, seconds: number): Promise<{ p50: number; p99: number; failed: number }> {
  const agent = new Agent({ connections: 1, localAddress: NEIGHBOUR });
  const latencies: number[] = [];
  let failed = 0;
  let offset = 0;
  for (const end = performance.now() + seconds * 1000; performance.now() < end; await sleep(100)) {
    const body = `{"command":"ls","exit_code":0,"timestamp":${Date.now() / 1000}}\n`;
    const t = performance.now();
    const res = await request(`${p.url}/ingest/commands`, { method: 'POST', dispatcher: agent, body, headers: { authorization: `Bearer ${BENCH_TOKEN}`, 'content-type': 'application/x-ndjson', 'x-workspace-id': 'neighbour', 'x-source-id': 'bench', 'x-source-offset': String(offset) } }).catch(() => undefined);
    await res?.body.dump();
    if (res?.statusCode !== 200) failed++;
    else {
      offset += body.length;
      latencies.push(performance.now() - t);
    }
  }
  await agent.close();
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), failed };
}

/** One try of a flood: what it got back (a status, or `closed`). */
type Attempt = () => Promise<string>;

/** `loops` clients from loopback, each trying again as soon as it is done, until `stop()`: how many tries got what. */
function flood(loops: number, attempt: Attempt): { stop: () => Promise<Record<string, number>> } {
  let stopped = false;
  const got: Record<string, number> = {};
  const running = Promise.all(Array.from({ length: loops }, async () => {
    while (!stopped) {
      const outcome = await attempt().catch(() => 'closed');
      got[outcome] = (got[outcome] ?? 0) + 1;
    }
  }));
  return { stop: async () => ((stopped = true), await running, got) };
}

export const connectionFlood: Scenario = {
  name: 'connection-flood',
  description: 'one pod without a credential: stalled connections held (receiver memory, cap off and on), connection churn and 401 requests (receiver CPU, a neighbour\'s latency)',
  async run(ctx) {
    const stalled = ctx.int('BENCH_FLOOD_CONNECTIONS', 8000);
    const seconds = ctx.int('BENCH_FLOOD_SECONDS', 10);
    const loops = ctx.int('BENCH_FLOOD_LOOPS', 30);
    const db = await startBenchDb();
    const rows: Row[] = [];
    try {
      for (const cap of ['0', CAP]) {
        ctx.progress(`${stalled} stalled connections, MAX_CONNECTIONS_PER_PEER=${cap}`);
        const receiver = await startReceiverProcess(db.url, BENCH_TOKEN, { MAX_CONNECTIONS_PER_PEER: cap });
        const before = rssMiB(receiver.child.pid!);
        const held = await holdStalled(receiver, stalled);
        await sleep(2000);
        rows.push({ flood: `${stalled} stalled connections`, MAX_CONNECTIONS_PER_PEER: cap, 'held open': held.open(), 'receiver RSS MiB before': before, 'receiver RSS MiB': rssMiB(receiver.child.pid!) });
        for (const s of held.sockets) s.destroy();
        await receiver.stop();
      }

      const receiver = await startReceiverProcess(db.url, BENCH_TOKEN, { MAX_CONNECTIONS_PER_PEER: CAP });
      const pid = receiver.child.pid!;
      // The flood's requests use at most `loops` connections, below the cap.
      const agent = new Agent({ connections: loops });
      const answered = async (path: string, o: { method?: 'POST'; body?: string; headers?: Record<string, string> } = {}) => {
        const res = await request(`${receiver.url}${path}`, { dispatcher: agent, ...o });
        await res.body.dump();
        return String(res.statusCode);
      };
      const floods: Array<{ name: string; attempt?: Attempt; capFull?: boolean }> = [
        { name: 'none (the neighbour alone)' },
        { name: `connections churned against a full cap, ${loops} loops`, capFull: true, attempt: () => new Promise((resolve) => connect(port(receiver), '127.0.0.1').on('error', () => undefined).on('close', () => resolve('closed')).resume()) },
        { name: `requests without a credential, ${loops} loops`, attempt: () => answered('/ingest/commands', { method: 'POST', body: '{}\n', headers: { 'content-type': 'application/x-ndjson', 'x-workspace-id': 'flood', 'x-source-id': 's', 'x-source-offset': '0' } }) },
        { name: `GET /healthz on kept-alive connections, ${loops} loops`, attempt: () => answered('/healthz') },
        { name: `GET /metrics on kept-alive connections, ${loops} loops`, attempt: () => answered('/metrics') },
      ];
      for (const { name, attempt, capFull } of floods) {
        ctx.progress(`${seconds} s: ${name}`);
        const held = capFull ? await holdStalled(receiver, Number(CAP)) : undefined;
        const cpu = cpuSecondsOf(pid);
        const t = performance.now();
        const running = attempt && flood(loops, attempt);
        const n = await neighbour(receiver, seconds);
        const wall = (performance.now() - t) / 1000;
        const used = cpuSecondsOf(pid) - cpu;
        const got = (await running?.stop()) ?? {};
        for (const s of held?.sockets ?? []) s.destroy();
        const attempts = Object.values(got).reduce((a, b) => a + b, 0);
        rows.push({
          flood: name, MAX_CONNECTIONS_PER_PEER: CAP, 'flood attempts/s': attempts / wall, 'flood got': Object.entries(got).map(([k, v]) => `${k}: ${v}`).join(', '),
          'receiver CPU %': (100 * used) / wall, 'receiver RSS MiB': rssMiB(pid), 'neighbour p50 ms': n.p50, 'neighbour p99 ms': n.p99, 'neighbour failed': n.failed,
        });
      }
      await agent.close();
      await receiver.stop();
    } finally {
      await db.close();
    }

    const capped = rows.find((r) => r.MAX_CONNECTIONS_PER_PEER === CAP && String(r.flood).includes('stalled'))!;
    const verdicts = [
      { target: `stalled connections held from one address <= ${CAP}`, measured: String(capped['held open']), met: Number(capped['held open']) <= Number(CAP) },
      { target: 'the neighbour is never refused', measured: String(rows.reduce((n, r) => n + Number(r['neighbour failed'] ?? 0), 0)), met: rows.every((r) => Number(r['neighbour failed'] ?? 0) === 0) },
    ];
    const table = printTable('connection-flood: one pod without a credential, beside a neighbour posting every 100 ms', rows);
    printTable('targets', verdicts.map((v) => ({ ...v, met: v.met ? 'yes' : 'NO' })));
    return {
      table, rows, verdicts,
      notes: ['The flood, the neighbour and the receiver share this machine\'s cores: the flood\'s client loops take CPU the receiver would otherwise have.'],
    };
  },
};
