// Scenario "noisy-neighbour": one student floods their own command log (what
// the shell loop `while true; do echo ... >> command-log.jsonl; done` does,
// about 3.5 MiB/s here) while the 1,000-workspace fleet runs at its realistic
// rate, against one receiver with its default limits. The fleet runs a stage alone, then a stage beside the
// flood: the other workspaces' p99 in both, in one run. The flooder's shipper
// is answered 429 past its workspace's rate and keeps its data: after the
// flood, every flooded line must be stored, exactly once.

import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startBenchDb } from '../lib/bench-db.js';
import { progressChart } from '../lib/charts.js';
import { startFleetGenerator, type FleetStage } from '../lib/fleet-run.js';
import { BENCH_TOKEN, startReceiverProcess, startShipperProcess, stopChild } from '../lib/programs.js';
import { scrape, total } from '../lib/scrape.js';
import { printTable } from '../lib/table.js';
import type { Row, Scenario } from '../scenario.js';

const TARGET_P99_MS = 250;
const FLOODER = 'noisy-student';

export const noisyNeighbour: Scenario = {
  name: 'noisy-neighbour',
  description: 'the 1,000-workspace fleet alone, then beside one workspace flooding its command log from a shell loop: fleet p99 in both stages, the flooder held to its rate (429), every flooded line stored',
  async run(ctx) {
    const workspaces = ctx.int('BENCH_FLEET_WORKSPACES', 1000);
    const intervalMs = ctx.int('BENCH_FLEET_COMMAND_INTERVAL_MS', 4000);
    const seconds = ctx.int('BENCH_NOISY_SECONDS', 60);
    const warmUp = ctx.int('BENCH_FLEET_WARMUP_SECONDS', 15);
    const drainLimitSeconds = ctx.int('BENCH_NOISY_DRAIN_SECONDS', 900);
    const floodMiBPerSecond = ctx.int('BENCH_NOISY_WRITE_MIB_PER_S', 4);
    const stages: FleetStage[] = [{ scale: 1, seconds: warmUp, warmUp: true }, { scale: 1, seconds }, { scale: 1, seconds }];

    const db = await startBenchDb();
    await db.reset();
    // The receiver's own defaults for the per-workspace limit ('' reads as unset), as a cluster runs it.
    const receiver = await startReceiverProcess(db.url, BENCH_TOKEN, { WORKSPACE_RATE_BYTES: process.env.BENCH_NOISY_RATE ?? '', WORKSPACE_BURST_BYTES: process.env.BENCH_NOISY_BURST ?? '' });
    const dir = join(ctx.workDir, 'flooder');
    const file = join(dir, 'runtime', 'command-log.jsonl');
    await mkdir(join(dir, 'runtime'), { recursive: true });
    await writeFile(file, '');
    const shipper = startShipperProcess({ WORKSPACE_ID: FLOODER, DASHBOARD_SERVICE_URL: receiver.url, INGEST_TOKEN: BENCH_TOKEN, RUNTIME_DIR: join(dir, 'runtime'), STATE_DIR: join(dir, 'state') });
    let flood: NodeJS.Timeout | undefined;
    try {
      ctx.progress(`generator: ${workspaces} workspaces at 1x; ${warmUp} s warm-up, ${seconds} s alone, ${seconds} s beside the flood`);
      const generator = startFleetGenerator({ url: receiver.url, token: BENCH_TOKEN, workspaces, intervalMs, stages });
      const ticks: Array<[number, number]> = [];
      const measured: Row[] = [];
      let floodStarted = 0;
      let floodSeconds = 0;
      let accepted: Record<string, number> = {};
      let limitedBefore = 0;
      let measuredStage = 0;
      for await (const e of generator.events) {
        if (e.type === 'tick' && !e.warmUp) ticks.push([e.t, e.p99!]);
        if (e.warmUp) continue;
        if (e.type === 'stage-start' && measuredStage === 1) {
          limitedBefore = total(await scrape(receiver.url), 'ferry_receiver_requests_limited_total', { limit: 'workspace_rate' });
          // The shell loop's lines at the shell loop's pace, appended in chunks: the loop itself would take a core of
          // this 2-core machine, where in a cluster it runs in the student's pod, under that pod's CPU limit.
          const line = `${JSON.stringify({ command: 'yes | head', exit_code: 0, timestamp: Math.floor(Date.now() / 1000) })}\n`;
          const chunk = line.repeat(Math.ceil((256 * 1024) / line.length));
          flood = setInterval(() => void appendFile(file, chunk), (chunk.length / (floodMiBPerSecond * 2 ** 20)) * 1000);
          floodStarted = performance.now();
          ctx.progress(`the flooder writes ${floodMiBPerSecond} MiB/s`);
        }
        if (e.type === 'stage-end') {
          if (flood) {
            clearInterval(flood);
            flood = undefined;
            floodSeconds = (performance.now() - floodStarted) / 1000;
          }
          measured.push({ stage: measuredStage === 0 ? 'fleet alone' : 'fleet beside the flood', seconds: Number(e.seconds!.toFixed(1)), 'requests/s': e.requests! / e.seconds!, 'p50 ms': e.p50!, 'p99 ms': e.p99!, 'max ms': e.max!, errors: e.errors! });
          ctx.progress(`${measured.at(-1)!.stage}: p99 ${e.p99!.toFixed(1)} ms, ${e.errors} errors`);
          measuredStage++;
        }
        if (e.type === 'done') accepted = e.accepted!;
      }
      await generator.exited;

      const written = (await readFile(file, 'utf8')).split('\n').length - 1;
      const writtenBytes = (await readFile(file)).length;
      const stored = async () => Number((await db.pool.query('SELECT count(*) AS n FROM command_log WHERE workspace_id = $1', [FLOODER])).rows[0].n);
      const storedAtFloodEnd = await stored();
      ctx.progress(`the flood wrote ${written.toLocaleString()} lines (${(writtenBytes / 2 ** 20).toFixed(0)} MiB); waiting for its shipper to deliver them at its rate`);
      const drainStarted = performance.now();
      while ((await stored()) < written && performance.now() - drainStarted < drainLimitSeconds * 1000) await new Promise((r) => setTimeout(r, 1000));
      const drainSeconds = (performance.now() - drainStarted) / 1000;
      const finallyStored = await stored();
      const limited = total(await scrape(receiver.url), 'ferry_receiver_requests_limited_total', { limit: 'workspace_rate' }) - limitedBefore;
      const shipperCode = await stopChild(shipper);
      await receiver.stop();

      const fleetStored = Number((await db.pool.query("SELECT count(*) AS n FROM command_log WHERE workspace_id LIKE 'fleet-ws-%'")).rows[0].n);
      const flooder: Row[] = [{
        'lines written': written, 'MiB written': writtenBytes / 2 ** 20, 'written MiB/s': writtenBytes / 2 ** 20 / floodSeconds,
        'stored during the flood': storedAtFloodEnd, 'requests answered 429': limited, 'drain after the flood s': Number(drainSeconds.toFixed(1)),
        'rows stored': finallyStored, 'shipper exit': shipperCode ?? 'signal',
      }];
      const table = printTable(`noisy-neighbour: ${workspaces.toLocaleString()} workspaces at 1x, alone and beside one flooding workspace (WORKSPACE_RATE_BYTES ${process.env.BENCH_NOISY_RATE ?? 'default'}, burst ${process.env.BENCH_NOISY_BURST ?? 'default'})`, measured);
      printTable('the flooding workspace', flooder);
      const beside = measured[1]!;
      const verdicts = [
        { target: `the fleet's p99 beside the flood <= ${TARGET_P99_MS} ms`, measured: `${Number(beside['p99 ms']).toFixed(1)} ms (alone: ${Number(measured[0]!['p99 ms']).toFixed(1)} ms)`, met: Number(beside['p99 ms']) <= TARGET_P99_MS },
        { target: 'the fleet: no errors beside the flood', measured: `${beside.errors} errors`, met: beside.errors === 0 },
        { target: 'every flooded line stored, once', measured: `${finallyStored.toLocaleString()} of ${written.toLocaleString()}`, met: finallyStored === written },
        { target: 'every line the fleet had accepted stored', measured: `${fleetStored.toLocaleString()} of ${(accepted.commands ?? 0).toLocaleString()} commands`, met: fleetStored === accepted.commands },
      ];
      printTable('targets', verdicts.map((v) => ({ ...v, met: v.met ? 'yes' : 'NO' })));
      return {
        table, rows: measured, verdicts, tables: { 'the flooding workspace': flooder },
        charts: [progressChart('latency', `noisy-neighbour: the fleet's request p99 per second (the flood runs in the second half; target ${TARGET_P99_MS} ms)`, 'ms', [{ name: 'p99', points: ticks }])],
        notes: [
          `The flood is what a shell loop a student would type appends to command-log.jsonl, at ${floodMiBPerSecond} MiB/s (the loop itself managed 3.5 MiB/s on this machine, with a core to itself); a real ferry-shipper tails it. The receiver runs with its default per-workspace limit, so once the burst is spent the flooder's requests are answered 429 with Retry-After, and its shipper waits and resends.`,
          'The fleet is the fleet scenario\'s generator at its realistic rate (a command every 4 s per workspace); its latency is measured by the generator for its own requests.',
          'Everything shares the same 2 cores: the receiver, PostgreSQL, the generator and the flooder\'s shipper.',
        ],
      };
    } finally {
      clearInterval(flood);
      if (shipper.exitCode === null) shipper.kill('SIGKILL');
      if (receiver.child.exitCode === null) await receiver.stop();
      await db.close();
    }
  },
};
