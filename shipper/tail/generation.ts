// A file's generation: which incarnation of the file the offsets refer to. It
// is derived from the inode and the file's first line (capped), so it survives
// restarts, and it changes when the file is replaced (new inode) or rewritten
// from the start (new first line). A truncation the shipper sees bumps a
// counter that is part of the id too, so a rewrite with an identical first
// line is still a new generation.

import { createHash } from 'node:crypto';
import { readSync } from 'node:fs';

/** The first line, up to this many bytes, identifies the content. */
export const FINGERPRINT_BYTES = 4096;

export interface FileIdentity {
  dev: number;
  ino: number;
}

/**
 * The bytes that identify the content: the first line with its newline, or the
 * first FINGERPRINT_BYTES when the line is longer. Undefined until the file has
 * one or the other (an empty file or a partial first line has no identity yet).
 */
export function readFingerprint(fd: number): Buffer | undefined {
  const buf = Buffer.alloc(FINGERPRINT_BYTES);
  const bytesRead = readSync(fd, buf, 0, FINGERPRINT_BYTES, 0);
  const nl = buf.subarray(0, bytesRead).indexOf(0x0a);
  if (nl !== -1) return buf.subarray(0, nl + 1);
  return bytesRead === FINGERPRINT_BYTES ? buf : undefined;
}

export function generationId(file: FileIdentity, fingerprint: Buffer, truncations: number): string {
  const hash = createHash('sha256').update(fingerprint).digest('hex').slice(0, 16);
  return `${file.dev}.${file.ino}.${hash}${truncations > 0 ? `.t${truncations}` : ''}`;
}

/**
 * The truncation count a file's generation reached, from the generation ids
 * the receiver holds for it (`base`, `base.t1`, `base.t2`, ...): the highest,
 * or 0. A lost checkpoint is recovered from this, so a file truncated before
 * the checkpoint went missing keeps the id its lines were committed under.
 */
export function latestTruncations(base: string, sourceIds: readonly string[]): number {
  let latest = 0;
  for (const id of sourceIds) {
    const m = id.startsWith(`${base}.t`) ? /^\d+$/.exec(id.slice(base.length + 2)) : null;
    if (m) latest = Math.max(latest, Number(m[0]));
  }
  return latest;
}

/** What a pipeline's checkpoint says about its file. */
export interface SavedGeneration {
  generation: string;
  truncations: number;
}

export interface EnteredGeneration extends SavedGeneration {
  /** The checkpoint already names this generation (it need not be written before shipping). */
  known: boolean;
}

/**
 * The generation an open, identified file is in, the same way for every
 * pipeline. After a truncation the pipeline saw, the next count; otherwise
 * the checkpoint's count when the checkpoint names this file; otherwise the
 * highest count among the generations the destination holds (`held`: the
 * receiver's source ids for a JSONL file, the bucket's segment folders for
 * the recording), so that a lost checkpoint never sends a truncated file's
 * new content under its old generation. Without `held` (Vector-era
 * receivers) the count is 0. Undefined when `held` was cut short (drain
 * deadline).
 */
export async function enterGeneration(
  file: { generation(truncations: number): string },
  pending: number | undefined,
  saved: SavedGeneration | undefined,
  held: (() => Promise<readonly string[] | undefined>) | undefined,
): Promise<EnteredGeneration | undefined> {
  let n = pending ?? (saved && file.generation(saved.truncations) === saved.generation ? saved.truncations : undefined);
  if (n === undefined && held) {
    const ids = await held();
    if (ids === undefined) return undefined;
    n = latestTruncations(file.generation(0), ids);
  }
  n ??= 0;
  const generation = file.generation(n);
  return { generation, truncations: n, known: saved?.generation === generation };
}

/**
 * Whether the open file has left the generation being shipped: it is shorter
 * than the bytes the pipeline has relied on (truncated), or, when
 * `checkFirstLine`, its first line changed (rewritten in place).
 */
export async function generationEnded(
  file: { rewritten(): Promise<boolean> }, size: number, relied: number, checkFirstLine: boolean,
): Promise<'truncated' | 'rewritten' | undefined> {
  if (size < relied) return 'truncated';
  return checkFirstLine && (await file.rewritten()) ? 'rewritten' : undefined;
}
