// What must hold after the chaos, checked against the database and the store:
// every complete line written is in its table exactly once or in
// ingest_rejects with its reason (for a generation that was truncated or
// replaced, a prefix of it: what was not shipped before went with the file);
// workspace_status equals the fold of the stored timeline; every recording in
// S3 is byte-identical to its file; no multipart upload is left open.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { foldStatus, statusFields } from '../../receiver/ingest/fold-status.js';
import type { LineStream } from '../../shared/wire.js';
import { CAST, type Writer } from './writer.js';

export interface Verdict {
  ok: boolean;
  problems: string[];
  lines: { expected: number; stored: number; rejected: number; lostWithRewrites: number };
}

const TAG_SQL: Record<LineStream, string> = {
  commands: "SELECT split_part(command, ' ', 1) AS tag FROM command_log WHERE workspace_id = $1",
  events: "SELECT data->>'tag' AS tag FROM state_timeline WHERE workspace_id = $1",
  llm: "SELECT prompt_context->>'tag' AS tag FROM llm_interactions WHERE workspace_id = $1",
};

async function counted(db: pg.Pool, sql: string, ws: string): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (const { tag } of (await db.query(sql, [ws])).rows) seen.set(tag, (seen.get(tag) ?? 0) + 1);
  return seen;
}

export async function verifyLines(db: pg.Pool, writers: Writer[]): Promise<Verdict> {
  const problems: string[] = [];
  const totals = { expected: 0, stored: 0, rejected: 0, lostWithRewrites: 0 };
  for (const w of writers) {
    const rejected = new Map<string, { reason: string; n: number }>();
    for (const r of (await db.query("SELECT reason, convert_from(substring(raw from 1 for 200), 'SQL_ASCII') AS head FROM ingest_rejects WHERE workspace_id = $1", [w.workspace])).rows) {
      const tag = /"tag":"([^"]+)"/.exec(r.head)?.[1] ?? `unknown:${r.head.slice(0, 60)}`;
      const seen = rejected.get(tag);
      rejected.set(tag, { reason: r.reason, n: (seen?.n ?? 0) + 1 });
    }
    for (const stream of ['commands', 'events', 'llm'] as const) {
      const stored = await counted(db, TAG_SQL[stream], w.workspace);
      const known = new Set<string>();
      for (const [g, gen] of w.generations[stream].entries()) {
        let missingFrom: number | undefined;
        let holeReported = false;
        gen.lines.forEach((line, i) => {
          known.add(line.tag);
          totals.expected++;
          const rows = stored.get(line.tag) ?? 0;
          const rej = rejected.get(line.tag);
          const where = `${line.tag} (${stream} generation ${g}, line ${i})`;
          if (rows + (rej?.n ?? 0) === 0) {
            missingFrom ??= i;
            return;
          }
          if (missingFrom !== undefined && !holeReported) {
            const hole = gen.lines[missingFrom]!;
            problems.push(`${where} is stored, but line ${missingFrom} before it (${hole.tag}, to be ${hole.outcome}) is not`);
            holeReported = true;
          }
          if (line.outcome === 'row') {
            if (rows !== 1 || rej) problems.push(`${where}: ${rows} rows and ${rej?.n ?? 0} rejects, expected exactly one row`);
            totals.stored++;
          } else {
            if (rows !== 0 || rej?.n !== 1 || rej.reason !== line.outcome) problems.push(`${where}: ${rows} rows, rejects ${JSON.stringify(rej)}, expected one ${line.outcome} reject`);
            totals.rejected++;
          }
        });
        if (missingFrom !== undefined) {
          if (gen.superseded) totals.lostWithRewrites += gen.lines.length - missingFrom;
          else problems.push(`${stream} generation ${g}: ${gen.lines.length - missingFrom} lines from line ${missingFrom} (${gen.lines[missingFrom]!.tag}) are not stored`);
        }
      }
      for (const tag of stored.keys()) if (!known.has(tag)) problems.push(`${stream}: a row nobody wrote: ${tag}`);
    }
  }
  return { ok: problems.length === 0, problems: problems.slice(0, 40), lines: totals };
}

/** workspace_status equals what folding the stored timeline gives. */
export async function verifyStatus(db: pg.Pool, workspaces: string[]): Promise<string[]> {
  const problems: string[] = [];
  for (const ws of workspaces) {
    const timeline = await db.query("SELECT event_type, step_id, data, to_char(timestamp, 'YYYY-MM-DD HH24:MI:SS.US') AS at FROM state_timeline WHERE workspace_id = $1 ORDER BY id", [ws]);
    const patch = foldStatus(timeline.rows.map((r) => ({ at: r.at, fields: statusFields(r.event_type, r.step_id, r.data) })));
    const { rows } = await db.query("SELECT workshop_name, current_step, connected, steps_completed, last_goss_passed, to_char(last_active_at, 'YYYY-MM-DD HH24:MI:SS.US') AS last FROM workspace_status WHERE workspace_id = $1", [ws]);
    if (!patch) {
      if (rows.length > 0) problems.push(`${ws}: a status row without a timeline`);
      continue;
    }
    const want = {
      workshop_name: patch.workshop_name?.value ?? '',
      current_step: patch.current_step?.value ?? null,
      connected: patch.connected?.value ?? false,
      steps_completed: patch.steps_completed.length > 0 ? patch.steps_completed : null,
      last_goss_passed: patch.last_goss_passed?.value ?? null,
      last: patch.last_active_at,
    };
    if (JSON.stringify(rows[0]) !== JSON.stringify(want)) problems.push(`${ws}: workspace_status ${JSON.stringify(rows[0])} is not the fold of its timeline ${JSON.stringify(want)}`);
  }
  return problems;
}

export interface RecordingReader {
  object(key: string): Promise<Buffer | undefined>;
  viaReceiver(ws: string): Promise<Buffer>;
  pendingUploads(): Promise<Array<{ key: string }>>;
}

/** Every recording's whole-file object and the receiver's read endpoint give the file's bytes. */
export async function verifyRecordings(store: RecordingReader, writers: Writer[]): Promise<string[]> {
  const problems: string[] = [];
  for (const w of writers) {
    const file = await readFile(join(w.runtimeDir, CAST));
    const object = await store.object(`recordings/${w.workspace}/session.cast`);
    if (!object) problems.push(`${w.workspace}: no session.cast object`);
    else if (!object.equals(file)) problems.push(`${w.workspace}: session.cast object (${object.length} bytes) differs from the file (${file.length} bytes)`);
    const served = await store.viaReceiver(w.workspace);
    if (!served.equals(file)) problems.push(`${w.workspace}: GET /recordings serves ${served.length} bytes that differ from the file (${file.length})`);
  }
  const open = await store.pendingUploads();
  if (open.length > 0) problems.push(`multipart uploads left open: ${open.map((u) => u.key).join(', ')}`);
  return problems;
}
