// The fault schedule: derived from the seed alone, printed before the run, so
// a failing run can be replayed exactly (`--seed N`). Faults that touch the
// same thing (one shipper, one receiver, the database) never overlap; faults
// on different things do.

import { pick, seededRandom } from '../../dev/random.js';
import type { LineStream } from '../../shared/wire.js';

export type Fault =
  | { kind: 'shipper-sigkill'; ws: number; downMs: number }
  | { kind: 'shipper-sigterm'; ws: number }
  | { kind: 'checkpoint-delete'; ws: number }
  | { kind: 'checkpoint-corrupt'; ws: number; garbage: 'half' | 'binary' | 'wrong-version' }
  | { kind: 'file-truncate' | 'file-replace'; ws: number; stream: LineStream }
  | { kind: 'receiver-sigkill'; receiver: number; downMs: number }
  | { kind: 'postgres-stop'; downMs: number }
  | { kind: 'postgres-slow'; delayMs: number; forMs: number }
  | { kind: 's3-stop'; downMs: number }
  | { kind: 'network-reset'; forMs: number }
  | { kind: 'network-stall'; ms: number };

export interface Scheduled {
  atMs: number;
  fault: Fault;
}

/** The thing a fault takes away while it lasts. */
export function resourceOf(f: Fault): string {
  if ('ws' in f) return f.kind.startsWith('file') ? `file-${f.ws}-${(f as { stream: string }).stream}` : `shipper-${f.ws}`;
  if (f.kind === 'receiver-sigkill') return `receiver-${f.receiver}`;
  if (f.kind.startsWith('postgres')) return 'postgres';
  if (f.kind === 's3-stop') return 's3';
  return 'network';
}

/** How long a fault holds its resource, with room for the restart. */
function holdMs(f: Fault): number {
  switch (f.kind) {
    case 'shipper-sigkill': return f.downMs + 1500;
    case 'shipper-sigterm': return 8000;
    case 'receiver-sigkill': return f.downMs + 2000;
    case 'postgres-stop': case 's3-stop': return f.downMs + 3000;
    case 'postgres-slow': return f.forMs + 500;
    case 'network-reset': return f.forMs + 500;
    case 'network-stall': return f.ms + 500;
    default: return 2500;
  }
}

const KINDS: Array<[Fault['kind'], number]> = [
  ['shipper-sigkill', 14], ['shipper-sigterm', 4], ['checkpoint-delete', 3], ['checkpoint-corrupt', 3],
  ['file-truncate', 2], ['file-replace', 2], ['receiver-sigkill', 6], ['postgres-stop', 3], ['postgres-slow', 3],
  ['s3-stop', 3], ['network-reset', 6], ['network-stall', 4],
];

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

export function makeSchedule(o: ScheduleOptions): Scheduled[] {
  const rand = seededRandom(o.seed);
  const total = KINDS.reduce((s, [, w]) => s + w, 0);
  const kindOf = () => {
    let r = rand() * total;
    for (const [k, w] of KINDS) if ((r -= w) < 0) return k;
    return KINDS[0]![0];
  };
  const between = (lo: number, hi: number) => Math.round(lo + rand() * (hi - lo));
  const ws = () => Math.floor(rand() * o.workspaces);
  const build = (kind: Fault['kind']): Fault => {
    switch (kind) {
      case 'shipper-sigkill': return { kind, ws: ws(), downMs: between(0, 1500) };
      case 'shipper-sigterm': case 'checkpoint-delete': return { kind, ws: ws() };
      case 'checkpoint-corrupt': return { kind, ws: ws(), garbage: pick(rand, ['half', 'binary', 'wrong-version'] as const) };
      case 'file-truncate': case 'file-replace': return { kind, ws: ws(), stream: pick(rand, ['commands', 'events', 'llm'] as const) };
      case 'receiver-sigkill': return { kind, receiver: Math.floor(rand() * o.receivers), downMs: between(200, 3000) };
      case 'postgres-stop': return { kind, downMs: between(1000, 6000) };
      case 'postgres-slow': return { kind, delayMs: between(50, 400), forMs: between(2000, 8000) };
      case 's3-stop': return { kind, downMs: between(2000, 12000) };
      case 'network-reset': return { kind, forMs: between(0, 1500) };
      case 'network-stall': return { kind, ms: between(o.requestTimeoutMs + 500, o.requestTimeoutMs * 2.5) };
    }
  };
  const busyUntil = new Map<string, number>();
  const out: Scheduled[] = [];
  for (let at = 1000 + rand() * o.meanGapMs; at < o.durationMs; at += -Math.log(1 - rand()) * o.meanGapMs) {
    const fault = build(kindOf());
    const resource = resourceOf(fault);
    const start = Math.max(at, busyUntil.get(resource) ?? 0);
    if (start >= o.durationMs) continue;
    busyUntil.set(resource, start + holdMs(fault));
    out.push({ atMs: Math.round(start), fault });
  }
  return out.sort((a, b) => a.atMs - b.atMs);
}

export function describeFault(f: Fault): string {
  const { kind, ...rest } = f;
  return `${kind} ${Object.entries(rest).map(([k, v]) => `${k}=${v}`).join(' ')}`.trim();
}
