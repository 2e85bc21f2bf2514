// checkpoint: per file, which generation and up to which byte the receiver has
// committed. Small data, separate from the open files. Written atomically
// (temp file, fsync, rename, fsync of the folder) in a versioned format, and
// coalesced: at most one write per interval, however many batches land.

import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';

export const CHECKPOINT_VERSION = 1;
const FILE = 'checkpoints.json';

export interface FilePosition {
  generation: string;
  offset: number;
  /** Truncations seen in this inode; part of the generation id. */
  truncations: number;
}

export interface CheckpointFile {
  version: typeof CHECKPOINT_VERSION;
  workspace_id: string;
  updated_at: string;
  files: Record<string, FilePosition>;
  /** Other pipelines' state (the recording pipeline keeps its own here). */
  extra: Record<string, unknown>;
}

export type Loaded =
  | { status: 'ok'; checkpoint: CheckpointFile }
  | { status: 'missing' }
  | { status: 'corrupt'; reason: string }
  | { status: 'other_workspace'; workspaceId: string };

function isPosition(v: unknown): v is FilePosition {
  const p = v as FilePosition;
  return typeof p === 'object' && p !== null && typeof p.generation === 'string' && Number.isSafeInteger(p.offset) && p.offset >= 0 && Number.isSafeInteger(p.truncations) && p.truncations >= 0;
}

export async function loadCheckpoint(dir: string, workspaceId: string): Promise<Loaded> {
  let text: string;
  try {
    text = await readFile(join(dir, FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'missing' };
    throw err;
  }
  let data: CheckpointFile;
  try {
    data = JSON.parse(text) as CheckpointFile;
  } catch (err) {
    return { status: 'corrupt', reason: `not JSON: ${(err as Error).message}` };
  }
  if (data?.version !== CHECKPOINT_VERSION) return { status: 'corrupt', reason: `unknown version ${JSON.stringify(data?.version)}` };
  if (typeof data.files !== 'object' || data.files === null || !Object.values(data.files).every(isPosition)) return { status: 'corrupt', reason: 'bad file positions' };
  if (data.workspace_id !== workspaceId) return { status: 'other_workspace', workspaceId: String(data.workspace_id) };
  return { status: 'ok', checkpoint: { ...data, extra: typeof data.extra === 'object' && data.extra !== null ? data.extra : {} } };
}

export interface CheckpointStore {
  get(name: string): FilePosition | undefined;
  set(name: string, position: FilePosition): void;
  getExtra<T>(key: string): T | undefined;
  setExtra(key: string, value: unknown): void;
  /** Writes now if anything changed; resolves when it is durable. */
  flush(): Promise<void>;
  /** How long the oldest progress not yet durable has waited (0 when the file is current). */
  ageMs(): number;
}

export async function writeAtomically(dir: string, name: string, content: string): Promise<void> {
  const tmp = join(dir, `${name}.tmp`);
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(content);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, join(dir, name));
  const dirHandle = await open(dir, 'r');
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}

export async function createCheckpointStore(dir: string, workspaceId: string, initial: CheckpointFile | undefined, intervalMs: number, onWritten: (ms: number) => void, onError: (err: unknown) => void): Promise<CheckpointStore> {
  await mkdir(dir, { recursive: true });
  const files: Record<string, FilePosition> = { ...initial?.files };
  const extra: Record<string, unknown> = { ...initial?.extra };
  let dirty = false;
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> = Promise.resolve();
  let dirtySince: number | undefined;

  const write = (): Promise<void> => {
    writing = writing.then(async () => {
      if (!dirty) return;
      dirty = false;
      const since = dirtySince;
      dirtySince = undefined;
      const started = performance.now();
      const content: CheckpointFile = { version: CHECKPOINT_VERSION, workspace_id: workspaceId, updated_at: new Date().toISOString(), files, extra };
      try {
        await writeAtomically(dir, FILE, JSON.stringify(content));
        onWritten(performance.now() - started);
      } catch (err) {
        dirty = true;
        dirtySince ??= since;
        onError(err);
      }
    });
    return writing;
  };
  const schedule = () => {
    dirty = true;
    dirtySince ??= performance.now();
    if (timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      void write();
    }, intervalMs);
  };

  return {
    get: (name) => files[name],
    set(name, position) {
      const was = files[name];
      // Nothing moved, nothing is written.
      if (was && was.generation === position.generation && was.offset === position.offset && was.truncations === position.truncations) return;
      files[name] = { ...position };
      schedule();
    },
    getExtra: <T>(key: string) => extra[key] as T | undefined,
    setExtra(key, value) {
      if (JSON.stringify(extra[key]) === JSON.stringify(value)) return;
      extra[key] = value;
      schedule();
    },
    async flush() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      await write();
    },
    ageMs: () => (dirtySince === undefined ? 0 : performance.now() - dirtySince),
  };
}
