// The baseline's input: a backlog as COPY text, encoded by the receiver's own
// row encoders (so psql \copy loads exactly the rows ferry loads), cached
// beside the backlog.

import { createReadStream, createWriteStream } from 'node:fs';
import { rename, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { Invalid, TABLES } from '../../receiver/ingest/records.js';
import type { LineStream } from '../../shared/wire.js';
import type { Backlog } from './backlog.js';

export interface CopyTarget {
  table: string;
  columns: string;
}

/** The table and columns the receiver COPYs a stream into. */
export function copyTarget(stream: LineStream): CopyTarget {
  const m = /^COPY (\S+) \((.*)\) FROM STDIN$/.exec(TABLES[stream].copySql);
  if (!m) throw new Error(`unexpected COPY statement for ${stream}`);
  return { table: m[1]!, columns: m[2]! };
}

/** The backlog's rows as COPY text for `workspaceId`; throws on a line the receiver would reject. */
function rowOf(stream: LineStream, line: string, workspaceId: string) {
  try {
    return TABLES[stream].toRow(JSON.parse(line) as Record<string, unknown>, workspaceId);
  } catch (e) {
    if (e instanceof Invalid) throw new Error(`${stream} backlog line rejected: ${e.detail}`);
    throw e;
  }
}

export async function copyFileOf(backlog: Backlog, stream: LineStream, workspaceId: string): Promise<string> {
  const path = `${backlog.path}.${workspaceId}.tsv`;
  if (await stat(path).then(() => true, () => false)) return path;
  const partial = `${path}.partial`;
  const out = createWriteStream(partial);
  for await (const line of createInterface({ input: createReadStream(backlog.path), crlfDelay: Infinity })) {
    const { row } = rowOf(stream, line, workspaceId);
    if (!out.write(row)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  await rename(partial, path);
  return path;
}
