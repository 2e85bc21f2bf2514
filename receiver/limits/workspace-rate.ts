// Per-workspace ingest rate, the way Loki limits a tenant: a token bucket of
// bytes per workspace that refills at WORKSPACE_RATE_BYTES per second up to
// WORKSPACE_BURST_BYTES. A request is admitted when its declared bytes are in
// the bucket; bytes learnt only later (a gzip body's decoded size) are charged
// afterwards and may leave the bucket in debt, which the next requests wait
// out. Buckets live in this replica only: the limit is per replica.

export type Admission = { ok: true } | { ok: false; retryAfterMs: number };

export interface WorkspaceRate {
  admit(workspace: string, bytes: number): Admission;
  /** Takes bytes that were not known at admission (the bucket may go below zero), or gives back (negative) bytes admitted but never read. */
  charge(workspace: string, bytes: number): void;
}

export interface RateOptions {
  bytesPerSecond: number;
  burstBytes: number;
  now?: () => number;
}

/** Past this many buckets, full ones (idle workspaces) are forgotten: a full bucket is what a new one would be. */
const SWEEP_AT = 10_000;

interface Bucket {
  tokens: number;
  at: number;
}

export function createWorkspaceRate(o: RateOptions): WorkspaceRate {
  const now = o.now ?? (() => performance.now());
  const buckets = new Map<string, Bucket>();

  function refill(b: Bucket, t: number): void {
    b.tokens = Math.min(o.burstBytes, b.tokens + ((t - b.at) / 1000) * o.bytesPerSecond);
    b.at = t;
  }

  function bucket(workspace: string): Bucket {
    const t = now();
    let b = buckets.get(workspace);
    if (!b) {
      if (buckets.size >= SWEEP_AT) sweep(t);
      b = { tokens: o.burstBytes, at: t };
      buckets.set(workspace, b);
    }
    refill(b, t);
    return b;
  }

  function sweep(t: number): void {
    for (const [ws, b] of buckets) {
      refill(b, t);
      if (b.tokens >= o.burstBytes) buckets.delete(ws);
    }
  }

  return {
    admit(workspace, bytes) {
      const b = bucket(workspace);
      // A body of unknown size (0 here) needs a bucket out of debt.
      const need = Math.max(1, Math.min(bytes, o.burstBytes));
      if (b.tokens >= need) {
        b.tokens -= bytes;
        return { ok: true };
      }
      return { ok: false, retryAfterMs: Math.ceil(((need - b.tokens) / o.bytesPerSecond) * 1000) };
    },
    charge(workspace, bytes) {
      bucket(workspace).tokens -= bytes;
    },
  };
}
