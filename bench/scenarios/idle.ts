// Scenario "idle": what one workspace's shipper costs while it waits, and at
// one workspace's real rate, times a fleet of 1,000 pods. One ferry-shipper
// caught up on its three files and the recording (S3: s3rver) sits for a
// minute with nothing written, beside a bare Node process started in the same
// run (the floor for a Node sidecar); then the simulated workspace writes at
// its real pace (a command every 4 s, state events, a tutor call now and
// then). Per Node binary (BENCH_NODE, comma-separated: Node 20 beside the
// image's Node 24). CPU comes from /proc/<pid>/stat (the process's own CPU
// seconds, which another session on a shared machine does not inflate), RSS
// from /proc/<pid>/status.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { startS3, type S3Server } from '../../dev/embedded-s3.js';
import { freePort } from '../../dev/free-port.js';
import { simulateWorkspace } from '../../dev/workspace-simulator.js';
import { startBenchDb } from '../lib/bench-db.js';
import { processCharts, type ChartedProcess } from '../lib/charts.js';
import { busyIn } from '../lib/cpu-profile.js';
import { contextSwitches, cpuSecondsOf, residentParts, sampleProcess, type ProcSummary } from '../lib/proc-stats.js';
import { BENCH_TOKEN, SHIPPER_BIN, startReceiverProcess, startShipperProcess, stopChild, type Program } from '../lib/programs.js';
import { scrape, total } from '../lib/scrape.js';
import { sleep, until } from '../lib/poll.js';
import { max, MIB } from '../lib/stats.js';
import { printTable } from '../lib/table.js';
import type { Row, Scenario, ScenarioContext, Verdict } from '../scenario.js';

const POD_MANIFEST = fileURLToPath(new URL('../../../k8s/workspace/classic/pod.yaml', import.meta.url));
const FLEET = 1_000;
/** One workspace's pace (the fleet scenario's): a command every 4 s on average. */
const COMMANDS_PER_SECOND = 0.25;
const TARGET = { idleCpuPercent: 0.2, idleRssMiB: 48 };

/** A Kubernetes CPU or memory quantity: cores, or bytes. */
function quantity(q: string): number {
  const m = /^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi)?$/.exec(q);
  if (!m) throw new Error(`not a quantity: ${q}`);
  const unit = { m: 1e-3, Ki: 1024, Mi: MIB, Gi: 1024 * MIB }[m[2] ?? ''] ?? 1;
  return Number(m[1]) * unit;
}

/** The shipper container's requests and limits in the workspace pod. */
async function podResources(): Promise<{ requests: { cpu: number; memory: number }; limits: { cpu: number; memory: number } }> {
  const pod = parse(await readFile(POD_MANIFEST, 'utf8')) as { spec: { containers: Array<{ name: string; resources: Record<'requests' | 'limits', { cpu: string; memory: string }> }> } };
  const { resources } = pod.spec.containers.find((c) => c.name === 'ferry-shipper')!;
  const of = (r: { cpu: string; memory: string }) => ({ cpu: quantity(r.cpu), memory: quantity(r.memory) });
  return { requests: of(resources.requests), limits: of(resources.limits) };
}

/** A process's CPU seconds, context switches and RSS over a window. */
interface Window {
  seconds: number;
  cpuSeconds: number;
  switches: number;
  rssMiB: number;
  /** Of the RSS at the window's end: the process's own memory, and the files it maps (node's code, shared by every process of the same image on a node). */
  anonMiB: number;
  fileMiB: number;
  summary: ProcSummary;
}

function watch(pid: number): () => Window {
  const started = performance.now();
  const cpu = cpuSecondsOf(pid);
  const switches = contextSwitches(pid);
  const sampler = sampleProcess(pid, 1000);
  return () => {
    const summary = sampler.stop();
    const parts = residentParts(pid);
    return {
      anonMiB: parts.anonBytes / MIB,
      fileMiB: parts.fileBytes / MIB,
      seconds: (performance.now() - started) / 1000,
      cpuSeconds: cpuSecondsOf(pid) - cpu,
      switches: contextSwitches(pid) - switches,
      // RSS at rest: the largest sample in the window (the high-water mark since start would include the catch-up).
      rssMiB: max(summary.samples.map((s) => s.rssBytes)) / MIB,
      summary,
    };
  };
}

function bareNode(node: string): ChildProcess {
  return spawn(node, ['-e', 'setInterval(() => {}, 1e9)'], { stdio: 'ignore' });
}

interface Run {
  node: string;
  version: string;
  idle: { shipper: Window; bare: Window; checkpointWritten: boolean };
  active?: { shipper: Window; bare: Window; lines: number; castBytes: number };
  profile?: Awaited<ReturnType<typeof busyIn>>;
  exitCode: number | null;
}

/** A workspace's files with some history, a shipper caught up on them, then a quiet minute (and the real pace, unless profiling). */
async function measure(ctx: ScenarioContext, env: { receiver: Program; s3: S3Server }, node: string, label: string, o: { idleS: number; activeS: number; profileDir?: string }): Promise<Run> {
  const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
  const dir = join(ctx.workDir, label);
  const runtime = join(dir, 'runtime');
  // History, written before the shipper starts: about 3 MB, an hour or so of a workspace (mostly its
  // tutor calls), the catch-up of a shipper restarted mid-workshop. What the catch-up leaves behind
  // in memory is part of the idle figure.
  const history = await simulateWorkspace(runtime, { commandsPerSecond: 5000, seed: 7 });
  await sleep(4000);
  history.stop();
  await sleep(200);

  const port = await freePort();
  const shipper = startShipperProcess({
    ...env.s3.shipperEnv,
    WORKSPACE_ID: `idle-${label}`, DASHBOARD_SERVICE_URL: env.receiver.url, INGEST_TOKEN: BENCH_TOKEN, RUNTIME_DIR: runtime, STATE_DIR: join(dir, 'state'), METRICS_PORT: String(port),
  }, { node, nodeArgs: o.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${o.profileDir}`] : [] });
  const bare = bareNode(node);
  const exited = new Promise<number | null>((r) => shipper.once('exit', (code) => r(code)));
  try {
    ctx.progress(`${version}${o.profileDir ? ' (profiled)' : ''}: catching up`);
    // Caught up: every file's lag and the recording's unsynced bytes at 0. /metrics is not read again after this.
    await until(async () => {
      const m = await scrape(`http://127.0.0.1:${port}`).catch(() => undefined);
      const lags = m?.filter((s) => s.name === 'ferry_shipper_lag_bytes') ?? [];
      const synced = m?.some((s) => s.name === 'ferry_shipper_recording_segments_total' && s.value > 0) && total(m!, 'ferry_shipper_recording_unsynced_bytes') === 0;
      return lags.length === 3 && lags.every((s) => s.value === 0) && synced ? true : undefined;
    }, { everyMs: 500, timeoutS: 120, alive: () => shipper.exitCode === null, what: 'the shipper catching up' });
    // Settled: the last batch's checkpoint write and the collections after the catch-up are behind.
    await sleep(5000);

    ctx.progress(`${version}: ${o.idleS} s with nothing written`);
    const checkpointAt = () => stat(join(dir, 'state', 'checkpoints.json')).then((s) => s.mtimeMs);
    const checkpointBefore = await checkpointAt();
    const idleShipper = watch(shipper.pid!);
    const idleBare = watch(bare.pid!);
    await sleep(o.idleS * 1000);
    const idle = { shipper: idleShipper(), bare: idleBare(), checkpointWritten: (await checkpointAt()) !== checkpointBefore };

    let active: Run['active'];
    if (o.activeS > 0) {
      ctx.progress(`${version}: ${o.activeS} s at one workspace's pace (a command every ${1 / COMMANDS_PER_SECOND} s)`);
      const activeShipper = watch(shipper.pid!);
      const activeBare = watch(bare.pid!);
      const sim = await simulateWorkspace(runtime, { commandsPerSecond: COMMANDS_PER_SECOND, seed: 11 });
      await sleep(o.activeS * 1000);
      sim.stop();
      const w = sim.written();
      active = { shipper: activeShipper(), bare: activeBare(), lines: w.commands + w.events + w.llm, castBytes: w.castBytes };
    }

    const stoppedAt = performance.now();
    shipper.kill('SIGTERM');
    const exitCode = await exited;
    const drainS = (performance.now() - stoppedAt) / 1000;
    let profile: Run['profile'];
    if (o.profileDir) {
      const file = (await readdir(o.profileDir)).find((f) => f.endsWith('.cpuprofile'))!;
      // The quiet minute ended at SIGTERM: the profile's last `drainS` seconds are the drain.
      profile = await busyIn(join(o.profileDir, file), drainS + o.idleS, drainS);
    }
    return { node, version, idle, active, profile, exitCode };
  } finally {
    bare.kill('SIGKILL');
    await stopChild(shipper);
  }
}

const pct = (w: Window) => (w.cpuSeconds / w.seconds) * 100;

export const idle: Scenario = {
  name: 'idle',
  description: 'one shipper caught up on three files and the recording: a minute with nothing written beside a bare Node process, then one workspace\'s real pace; CPU, RSS, wakeups, and the bill for 1,000 pods',
  async run(ctx) {
    const nodes = (process.env.BENCH_NODE ?? process.execPath).split(',').filter(Boolean);
    const idleS = ctx.int('BENCH_IDLE_SECONDS', 60);
    const activeS = ctx.int('BENCH_IDLE_ACTIVE_SECONDS', 120);
    const profiled = ctx.int('BENCH_IDLE_PROFILE', 0) === 1;
    const db = await startBenchDb();
    const s3 = await startS3();
    // The receiver holds the store's credentials and presigns the shipper's uploads.
    const receiver = await startReceiverProcess(db.url, BENCH_TOKEN, { ...s3.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' });
    const runs: Run[] = [];
    try {
      for (const [i, node] of nodes.entries()) {
        runs.push(await measure(ctx, { receiver, s3 }, node, `n${i}`, { idleS, activeS }));
        if (profiled) {
          const profileDir = join(ctx.workDir, `profile-${i}`);
          await mkdir(profileDir);
          runs.push(await measure(ctx, { receiver, s3 }, node, `p${i}`, { idleS, activeS: 0, profileDir }));
        }
      }
    } finally {
      await receiver.stop();
      await s3.destroy();
      await db.close();
    }

    const measured = runs.filter((r) => !r.profile);
    const rows: Row[] = measured.flatMap((r): Row[] => [
      { method: `bare node (${r.version}), idle`, 'CPU % of a core': pct(r.idle.bare), 'CPU ms': r.idle.bare.cpuSeconds * 1000, 'wakeups/s': r.idle.bare.switches / r.idle.bare.seconds, 'RSS MiB': r.idle.bare.rssMiB, 'anon MiB': r.idle.bare.anonMiB, 'file MiB': r.idle.bare.fileMiB },
      { method: `ferry-shipper (${r.version}), idle`, 'CPU % of a core': pct(r.idle.shipper), 'CPU ms': r.idle.shipper.cpuSeconds * 1000, 'wakeups/s': r.idle.shipper.switches / r.idle.shipper.seconds, 'RSS MiB': r.idle.shipper.rssMiB, 'anon MiB': r.idle.shipper.anonMiB, 'file MiB': r.idle.shipper.fileMiB, 'checkpoint written': r.idle.checkpointWritten ? 'yes' : 'no' },
      ...(r.active ? [<Row>{
        method: `ferry-shipper (${r.version}), one workspace's pace`, 'CPU % of a core': pct(r.active.shipper), 'CPU ms': r.active.shipper.cpuSeconds * 1000, 'wakeups/s': r.active.shipper.switches / r.active.shipper.seconds, 'RSS MiB': r.active.shipper.rssMiB, 'anon MiB': r.active.shipper.anonMiB, 'file MiB': r.active.shipper.fileMiB,
        lines: r.active.lines, 'CPU ms per line': (r.active.shipper.cpuSeconds * 1000) / Math.max(1, r.active.lines), 'recording KiB': r.active.castBytes / 1024,
      }] : []),
    ]);
    const table = printTable(`idle: ${idleS} s with nothing written, then ${activeS} s at ${COMMANDS_PER_SECOND} commands/s (shipper ${SHIPPER_BIN})`, rows);

    const pod = await podResources();
    const fleet: Row[] = measured.flatMap((r) => {
      const row = (what: string, w: Window) => ({
        what: `${what} (${r.version})`, 'cores for 1,000 pods': (pct(w) / 100) * FLEET, 'GiB for 1,000 pods': (w.rssMiB * FLEET) / 1024,
        'GiB of their own (anon)': (w.anonMiB * FLEET) / 1024,
      });
      return [
        row('bare node, idle', r.idle.bare),
        row('ferry-shipper, idle', r.idle.shipper),
        ...(r.active ? [row('ferry-shipper, one workspace\'s pace', r.active.shipper)] : []),
      ];
    });
    fleet.push({ what: 'requests (k8s/workspace)', 'cores for 1,000 pods': pod.requests.cpu * FLEET, 'GiB for 1,000 pods': (pod.requests.memory * FLEET) / 1024 ** 3 });
    fleet.push({ what: 'limits (k8s/workspace)', 'cores for 1,000 pods': pod.limits.cpu * FLEET, 'GiB for 1,000 pods': (pod.limits.memory * FLEET) / 1024 ** 3 });
    printTable(`the bill for ${FLEET.toLocaleString()} pods`, fleet);

    const tables: Record<string, Row[]> = { [`the bill for ${FLEET.toLocaleString()} pods`]: fleet };
    for (const r of runs.filter((r) => r.profile)) {
      const p = r.profile!;
      const title = `profile of the quiet minute (${r.version}, node --cpu-prof): ${p.busyMs} ms busy in ${p.seconds.toFixed(0)} s`;
      tables[title] = p.functions.map((f) => ({ ...f }));
      printTable(title, tables[title]!);
    }

    const verdicts: Verdict[] = measured.flatMap((r) => [
      { target: `idle shipper CPU <= ${TARGET.idleCpuPercent}% of a core (${r.version})`, measured: `${pct(r.idle.shipper).toFixed(3)}% (bare node ${pct(r.idle.bare).toFixed(3)}%)`, met: pct(r.idle.shipper) <= TARGET.idleCpuPercent },
      { target: `idle shipper RSS <= ${TARGET.idleRssMiB} MiB (${r.version})`, measured: `${r.idle.shipper.rssMiB.toFixed(1)} MiB (bare node ${r.idle.bare.rssMiB.toFixed(1)} MiB)`, met: r.idle.shipper.rssMiB <= TARGET.idleRssMiB },
      { target: `nothing written while nothing changes (${r.version})`, measured: r.idle.checkpointWritten ? 'the checkpoint was rewritten' : 'the checkpoint untouched', met: !r.idle.checkpointWritten },
      { target: `the shipper drains and exits 0 (${r.version})`, measured: `exit ${r.exitCode}`, met: r.exitCode === 0 },
    ]);
    printTable('targets', verdicts.map((v) => ({ ...v, met: v.met ? 'yes' : 'NO' })));

    const charts = measured.flatMap((r, i) => {
      const processes: ChartedProcess[] = [{ name: 'ferry-shipper', summary: r.idle.shipper.summary }, { name: 'bare node', baseline: true, summary: r.idle.bare.summary }];
      return processCharts(`idle-${i}`, `a quiet minute (${r.version})`, processes);
    });
    const notes = [
      `CPU is the process's own CPU seconds over the window (/proc/<pid>/stat, 10 ms ticks: over ${idleS} s one tick is ${(1 / idleS).toFixed(3)}% of a core); wakeups are the context switches of all its threads (/proc/<pid>/task/*/status).`,
      'RSS is the largest sample (one a second) in the window: the memory at rest, not the high-water mark of the catch-up before it. anon and file split the RSS at the window\'s end (/proc/<pid>/status RssAnon, RssFile): file is mostly the node binary\'s code, one copy in the page cache for all the containers of one image on a Kubernetes node; anon is what each pod adds.',
      `The pace: dev/workspace-simulator.ts at ${COMMANDS_PER_SECOND} commands/s (exponential gaps), a state event with a fifth of the commands, a tutor call with 3%, and the recording growing with each command; lines are the JSONL lines written in the window.`,
      'The bill multiplies one pod\'s figures by 1,000; the requests and limits are read from k8s/workspace/classic/pod.yaml.',
      ...(profiled ? ['Profiled runs (node --cpu-prof) are separate processes: their CPU includes the profiler, so they are left out of the figures; only their profile is shown.'] : []),
    ];
    return { table, rows, verdicts, tables, notes, charts };
  },
};
