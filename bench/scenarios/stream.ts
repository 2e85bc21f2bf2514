// Scenario "stream": the fleet generator's 1,000 workspaces post their state
// events, commands and LLM calls to one receiver while SSE clients follow
// /stream. After a warm-up (1,000 workspaces starting at once is a burst, as in
// the fleet scenario), measured per client count (1, then 50): time from a
// batch being stored (the event's `at`, taken in its transaction just before
// commit) to the event arriving at a client, p50/p99/max; every client must
// receive every event; the receiver's CPU and RSS. The 1-client run is the
// baseline for the 50-client fan-out, on the same load.

import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { startBenchDb } from '../lib/bench-db.js';
import { processCharts, type ChartedProcess } from '../lib/charts.js';
import { BENCH_READ_TOKEN, BENCH_TOKEN, FLEET_GENERATOR_BIN, startReceiverProcess, stopChild } from '../lib/programs.js';
import { sampleProcess } from '../lib/proc-stats.js';
import { max, MIB, percentile } from '../lib/stats.js';
import { printTable } from '../lib/table.js';
import type { Row, Scenario } from '../scenario.js';


interface Follower {
  /** [when the event was stored (epoch ms), how long it took to arrive (ms)] */
  delays: Array<[number, number]>;
  events: number;
  close(): void;
}

/** One SSE client: counts events, and the delay of each from its `at`. */
function follow(url: string): Promise<Follower> {
  return new Promise((resolve, reject) => {
    const f: Follower = { delays: [], events: 0, close: () => req.destroy() };
    const req = request(`${url}/stream`, { headers: { authorization: `Bearer ${BENCH_READ_TOKEN}`, accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`/stream answered ${res.statusCode}`));
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk: string) => {
        const now = Date.now();
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const at = /"at": ?"([^"]+)"/.exec(block);
          if (!block.includes('event: batch') || !at) continue;
          f.events++;
          // `at` has microseconds; Date.parse takes milliseconds.
          const stored = Date.parse(`${at[1]!.slice(0, 23)}Z`);
          f.delays.push([stored, now - stored]);
        }
      });
      resolve(f);
    });
    req.on('error', () => undefined);
    req.end();
  });
}

export const stream: Scenario = {
  name: 'stream',
  description: '1,000 workspaces posting while 50 SSE clients follow /stream: stored → received p50/p99 after a warm-up, every event to every client, receiver CPU and RSS (vs 1 client)',
  async run(ctx) {
    const workspaces = ctx.int('BENCH_STREAM_WORKSPACES', 1000);
    const seconds = ctx.int('BENCH_STREAM_SECONDS', 30);
    // As in the fleet scenario: 1,000 workspaces starting at once is a burst, not the steady state measured.
    const warmUp = ctx.int('BENCH_STREAM_WARMUP_SECONDS', 15);
    const clientCounts = [1, ctx.int('BENCH_STREAM_CLIENTS', 50)];
    const db = await startBenchDb();
    try {
      const rows: Row[] = [];
      const processes: ChartedProcess[] = [];
      for (const clients of clientCounts) {
        await db.reset();
        const receiver = await startReceiverProcess(db.url, BENCH_TOKEN, { READ_TOKEN: BENCH_READ_TOKEN });
        const stats = sampleProcess(receiver.child.pid!, 250);
        const followers = await Promise.all(Array.from({ length: clients }, () => follow(receiver.url)));
        ctx.progress(`${clients} client(s): ${workspaces} workspaces posting, ${warmUp} s warm-up (not measured), then ${seconds} s`);
        const measuredFrom = Date.now() + warmUp * 1000;
        const generator = spawn(process.execPath, [FLEET_GENERATOR_BIN], {
          env: { PATH: process.env.PATH, URL: receiver.url, TOKEN: BENCH_TOKEN, WORKSPACES: String(workspaces), STAGES: JSON.stringify([{ scale: 1, seconds: warmUp, warmUp: true }, { scale: 1, seconds }]) },
          stdio: ['ignore', 'ignore', 'inherit'],
        });
        await new Promise((r) => generator.once('exit', r));
        const stored = Number((await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM ferry_stream_events')).rows[0]!.n);
        // Let the last events arrive.
        for (let i = 0; i < 50 && followers.some((f) => f.events < stored); i++) await new Promise((r) => setTimeout(r, 100));
        const peak = stats.stop();
        for (const f of followers) f.close();
        await stopChild(receiver.child);
        const delays = followers.flatMap((f) => f.delays.filter(([stored]) => stored >= measuredFrom).map(([, ms]) => ms));
        const complete = followers.filter((f) => f.events === stored).length;
        rows.push({
          clients, 'batch events': stored, 'events measured': delays.length, 'clients with every event': `${complete} of ${clients}`,
          'p50 ms': percentile(delays, 50), 'p99 ms': percentile(delays, 99), 'max ms': max(delays),
          'receiver CPU s': peak.cpuSeconds, 'receiver peak RSS MiB': peak.peakRssBytes / MIB,
        });
        processes.push({ name: `receiver, ${clients} client(s)`, summary: peak, baseline: clients === 1 });
      }
      const table = printTable(`stream: ${workspaces} workspaces for ${seconds} s, SSE clients following /stream`, rows);
      const fanOut = rows.at(-1)!;
      const verdicts = [
        { target: `p99 stored → received <= 500 ms with ${fanOut.clients} clients`, measured: `${Number(fanOut['p99 ms']).toFixed(0)} ms`, met: Number(fanOut['p99 ms']) <= 500 },
        { target: 'every client receives every event', measured: rows.map((r) => r['clients with every event']).join(', '), met: rows.every((r) => String(r['clients with every event']).split(' of ')[0] === String(r.clients)) },
      ];
      printTable('targets', verdicts.map((v) => ({ ...v, met: v.met ? 'yes' : 'NO' })));
      return { table, rows, verdicts, charts: processCharts('stream', 'receiver while clients follow /stream', processes) };
    } finally {
      await db.close();
    }
  },
};
