// The fault schedule: derived from the seed alone, printed before the run, so
// a failing run can be replayed exactly (`--seed N`). Faults that touch the
// same thing (one shipper, one receiver, the database) never overlap; faults
// on different things do. A new fault is one entry in FAULTS (how often, how
// it is drawn, what it holds and for how long) and one case in run.ts.

import { pick, seededRandom } from '../../dev/random.js';
import type { LineStream } from '../../shared/wire.js';

/** A runtime file: one of the JSONL streams, or the recording. */
export type RuntimeFile = LineStream | 'recording';

export type Fault =
  | { kind: 'shipper-sigkill'; ws: number; downMs: number }
  | { kind: 'shipper-sigterm'; ws: number }
  | { kind: 'checkpoint-delete'; ws: number }
  | { kind: 'checkpoint-corrupt'; ws: number; garbage: 'half' | 'binary' | 'wrong-version' }
  | { kind: 'file-truncate'; ws: number; stream: LineStream }
  | { kind: 'file-replace'; ws: number; stream: LineStream }
  | { kind: 'file-unreadable'; ws: number; file: RuntimeFile; forMs: number }
  | { kind: 'receiver-sigkill'; receiver: number; downMs: number }
  | { kind: 'postgres-stop'; downMs: number }
  | { kind: 'postgres-slow'; delayMs: number; forMs: number }
  | { kind: 'postgres-blackhole'; forMs: number }
  | { kind: 's3-stop'; downMs: number }
  | { kind: 's3-plain'; ws: number; forMs: number }
  | { kind: 'network-reset'; forMs: number }
  | { kind: 'network-stall'; ms: number }
  | { kind: 'client-hangup'; receiver: number; clients: number };

export type FaultKind = Fault['kind'];

export interface Scheduled {
  atMs: number;
  fault: Fault;
}

export interface ScheduleOptions {
  seed: number;
  durationMs: number;
  workspaces: number;
  receivers: number;
  /** Mean time between faults. */
  meanGapMs: number;
  /** A request to the receiver times out after this; a stall lasts longer. */
  requestTimeoutMs: number;
}

interface Draw {
  rand: () => number;
  o: ScheduleOptions;
  between(lo: number, hi: number): number;
  ws(): number;
}

interface FaultSpec<K extends FaultKind> {
  /** Relative frequency. */
  weight: number;
  draw(d: Draw): Extract<Fault, { kind: K }>;
  /** The things it takes away while it lasts (a shipper, a file, a receiver, the database, the store, the network). */
  holds(f: Extract<Fault, { kind: K }>): string[];
  /** How long it holds them, with room for the restart. */
  holdMs(f: Extract<Fault, { kind: K }>): number;
}

const shipper = (f: { ws: number }) => [`shipper-${f.ws}`];

export const FAULTS: { [K in FaultKind]: FaultSpec<K> } = {
  'shipper-sigkill': { weight: 14, draw: (d) => ({ kind: 'shipper-sigkill', ws: d.ws(), downMs: d.between(0, 1500) }), holds: shipper, holdMs: (f) => f.downMs + 1500 },
  'shipper-sigterm': { weight: 4, draw: (d) => ({ kind: 'shipper-sigterm', ws: d.ws() }), holds: shipper, holdMs: () => 8000 },
  'checkpoint-delete': { weight: 3, draw: (d) => ({ kind: 'checkpoint-delete', ws: d.ws() }), holds: shipper, holdMs: () => 2500 },
  'checkpoint-corrupt': {
    weight: 3, draw: (d) => ({ kind: 'checkpoint-corrupt', ws: d.ws(), garbage: pick(d.rand, ['half', 'binary', 'wrong-version'] as const) }), holds: shipper, holdMs: () => 2500,
  },
  'file-truncate': { weight: 2, draw: (d) => ({ kind: 'file-truncate', ws: d.ws(), stream: pick(d.rand, ['commands', 'events', 'llm'] as const) }), holds: (f) => [`file-${f.ws}-${f.stream}`], holdMs: () => 2500 },
  'file-replace': { weight: 2, draw: (d) => ({ kind: 'file-replace', ws: d.ws(), stream: pick(d.rand, ['commands', 'events', 'llm'] as const) }), holds: (f) => [`file-${f.ws}-${f.stream}`], holdMs: () => 2500 },
  'file-unreadable': {
    weight: 3,
    draw: (d) => ({ kind: 'file-unreadable', ws: d.ws(), file: pick(d.rand, ['commands', 'events', 'llm', 'recording'] as const), forMs: d.between(500, 5000) }),
    holds: (f) => [`file-${f.ws}-${f.file}`],
    holdMs: (f) => f.forMs + 1000,
  },
  'receiver-sigkill': { weight: 6, draw: (d) => ({ kind: 'receiver-sigkill', receiver: Math.floor(d.rand() * d.o.receivers), downMs: d.between(200, 3000) }), holds: (f) => [`receiver-${f.receiver}`], holdMs: (f) => f.downMs + 2000 },
  'postgres-stop': { weight: 3, draw: (d) => ({ kind: 'postgres-stop', downMs: d.between(1000, 6000) }), holds: () => ['postgres'], holdMs: (f) => f.downMs + 3000 },
  'postgres-slow': { weight: 3, draw: (d) => ({ kind: 'postgres-slow', delayMs: d.between(50, 400), forMs: d.between(2000, 8000) }), holds: () => ['postgres'], holdMs: (f) => f.forMs + 500 },
  // Every byte between the receivers and PostgreSQL held (a failover, a partition): longer than the probe needs to notice.
  'postgres-blackhole': { weight: 2, draw: (d) => ({ kind: 'postgres-blackhole', forMs: d.between(5000, 15000) }), holds: () => ['postgres'], holdMs: (f) => f.forMs + 3000 },
  's3-stop': { weight: 3, draw: (d) => ({ kind: 's3-stop', downMs: d.between(2000, 12000) }), holds: () => ['s3'], holdMs: (f) => f.downMs + 3000 },
  // A store without ListMultipartUploads and AbortMultipartUpload; a shipper restarted meanwhile meets it at start-up.
  's3-plain': { weight: 3, draw: (d) => ({ kind: 's3-plain', ws: d.ws(), forMs: d.between(2000, 10000) }), holds: (f) => ['s3', ...shipper(f)], holdMs: (f) => f.forMs + 1500 },
  'network-reset': { weight: 6, draw: (d) => ({ kind: 'network-reset', forMs: d.between(0, 1500) }), holds: () => ['network'], holdMs: (f) => f.forMs + 500 },
  // Clients that send half a body and hang up, straight at a receiver: never an outage, never a lost line.
  'client-hangup': { weight: 3, draw: (d) => ({ kind: 'client-hangup', receiver: Math.floor(d.rand() * d.o.receivers), clients: d.between(10, 60) }), holds: () => ['hangups'], holdMs: () => 1000 },
  'network-stall': {
    weight: 4, draw: (d) => ({ kind: 'network-stall', ms: d.between(d.o.requestTimeoutMs + 500, d.o.requestTimeoutMs * 2.5) }), holds: () => ['network'], holdMs: (f) => f.ms + 500,
  },
};

const KINDS = Object.keys(FAULTS) as FaultKind[];

function spec(f: Fault): FaultSpec<FaultKind> {
  return FAULTS[f.kind] as unknown as FaultSpec<FaultKind>;
}

/** The things a fault takes away while it lasts. */
export function holds(f: Fault): string[] {
  return spec(f).holds(f);
}

export function makeSchedule(o: ScheduleOptions): Scheduled[] {
  const rand = seededRandom(o.seed);
  const total = KINDS.reduce((s, k) => s + FAULTS[k].weight, 0);
  const kindOf = () => {
    let r = rand() * total;
    for (const k of KINDS) if ((r -= FAULTS[k].weight) < 0) return k;
    return KINDS[0]!;
  };
  const d: Draw = { rand, o, between: (lo, hi) => Math.round(lo + rand() * (hi - lo)), ws: () => Math.floor(rand() * o.workspaces) };
  const busyUntil = new Map<string, number>();
  const out: Scheduled[] = [];
  for (let at = 1000 + rand() * o.meanGapMs; at < o.durationMs; at += -Math.log(1 - rand()) * o.meanGapMs) {
    const fault = (FAULTS[kindOf()] as unknown as FaultSpec<FaultKind>).draw(d);
    const held = holds(fault);
    const start = Math.max(at, ...held.map((r) => busyUntil.get(r) ?? 0));
    if (start >= o.durationMs) continue;
    for (const r of held) busyUntil.set(r, start + spec(fault).holdMs(fault));
    out.push({ atMs: Math.round(start), fault });
  }
  return out.sort((a, b) => a.atMs - b.atMs);
}

export function describeFault(f: Fault): string {
  const { kind, ...rest } = f;
  return `${kind} ${Object.entries(rest).map(([k, v]) => `${k}=${v}`).join(' ')}`.trim();
}
