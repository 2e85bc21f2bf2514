// The line corpus (corpus/lines.jsonl): every hostile line is stored or
// rejected with its stated reason, never both, never neither; the good lines
// around it arrive exactly once, whether the bytes come over HTTP (sent
// twice) or from the runtime files through the real shipper.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { LINE_STREAMS, type LineStream } from '../../shared/wire.js';
import { freshDatabase, queryPool } from '../helpers/database.js';
import { postLines } from '../helpers/http.js';
import { startTestReceiver } from '../helpers/receiver.js';
import { shipperDirs, shipperEnv, startShipper } from '../helpers/shipper.js';
import { waitFor } from '../helpers/wait.js';
import { goodLine, LINE_CASES, lineBytes, TABLE, TAG_COLUMN, type LineCase } from './corpus.js';

const FILES: Record<LineStream, string> = { commands: 'command-log.jsonl', events: 'state-events.jsonl', llm: 'llm-history.jsonl' };
/** Over the shipper's MAX_LINE_BYTES (1 MiB), and over its read window (4 MiB): its newline is found by scanning on. */
const TEN_MB_LINE = Buffer.from(`{"command":"${'x'.repeat(10 * 1024 * 1024)}","exit_code":0,"timestamp":1}`);
/** Over MAX_LINE_BYTES, but inside one read window together with the lines after it. */
const TWO_MB_LINE = Buffer.from(`{"command":"${'y'.repeat(2 * 1024 * 1024)}","exit_code":0,"timestamp":1}`);

let base: string;
let db: pg.Pool;

beforeAll(async () => {
  const url = await freshDatabase();
  base = (await startTestReceiver(url)).url;
  db = queryPool(url);
});

const STORED_COLUMNS: Record<LineStream, string> = {
  commands: 'command, exit_code, "timestamp"::text AS timestamp',
  events: 'event_type, step_id, data, "timestamp"::text AS timestamp',
  llm: 'step_id, student_question, prompt_context, response, model, requested_at::text AS requested_at',
};

describe('hostile lines over HTTP', () => {
  it(`the corpus has at least 100 line cases in every category (${LINE_CASES.length})`, () => {
    expect(LINE_CASES.length).toBeGreaterThanOrEqual(100);
    expect(new Set(LINE_CASES.map((c) => c.category)).size).toBeGreaterThanOrEqual(12);
  });

  LINE_CASES.forEach((c, i) => {
    it(`${c.category}: ${c.case} → ${c.expect}`, async () => {
      const ws = `line-${i}`;
      const line = lineBytes(c);
      const before = Buffer.from(`${goodLine(c.stream, 'good before')}\n`);
      const body = Buffer.concat([before, line, Buffer.from(`\n${goodLine(c.stream, 'good after')}\n`)]);
      const loaded = c.expect === 'loaded';
      const first = await postLines(base, c.stream, body, { workspace: ws });
      expect(first.body).toEqual({ accepted: loaded ? 3 : 2, duplicates: 0, rejected: loaded ? 0 : 1, next_offset: body.length });
      // The same request again, as a retrying shipper would send it: nothing more.
      const again = await postLines(base, c.stream, body, { workspace: ws });
      expect(again.body).toEqual({ accepted: 0, duplicates: 3, rejected: 0, next_offset: body.length });

      const { rows } = await db.query(`SELECT ${STORED_COLUMNS[c.stream]} FROM ${TABLE[c.stream]} WHERE workspace_id = $1 ORDER BY id`, [ws]);
      const tags = rows.map((r) => r[TAG_COLUMN[c.stream]]);
      const rejects = (await db.query('SELECT reason, source_offset::int AS at, raw_length::int AS length FROM ingest_rejects WHERE workspace_id = $1', [ws])).rows;
      expect(tags.filter((t) => t === 'good before' || t === 'good after')).toEqual(['good before', 'good after']);
      if (loaded) {
        expect(rows).toHaveLength(3);
        expect(rejects).toEqual([]);
        if (c.stored) expect(rows[1]).toMatchObject(c.stored);
      } else {
        expect(rows).toHaveLength(2);
        expect(rejects).toEqual([{ reason: c.expect, at: before.length, length: line.length }]);
      }
    });
  });
});

describe('hostile lines in the runtime files, through the real shipper', () => {
  it('every case lands where it should, the good lines between them exactly once, 2 MB and 10 MB lines reported by the shipper', async () => {
    const ws = 'shipped-corpus';
    const dirs = await shipperDirs();
    await mkdir(dirs.runtimeDir, { recursive: true });
    const expected = new Map<LineStream, { size: number; good: string[]; loaded: number; rejects: Array<{ at: number; reason: string }> }>();
    for (const stream of LINE_STREAMS) {
      const cases: Array<LineCase | Buffer> = [...LINE_CASES.filter((c) => c.stream === stream)];
      if (stream === 'commands') cases.splice(cases.length >> 1, 0, TEN_MB_LINE);
      cases.splice(cases.length >> 2, 0, TWO_MB_LINE);
      const parts: Buffer[] = [];
      let size = 0;
      const e = { size: 0, good: [] as string[], loaded: 0, rejects: [] as Array<{ at: number; reason: string }> };
      const push = (b: Buffer) => { parts.push(b); size += b.length; };
      cases.forEach((c, i) => {
        const good = `good ${stream} ${i}`;
        e.good.push(good);
        push(Buffer.from(`${goodLine(stream, good)}\n`));
        const at = size;
        push(Buffer.concat([Buffer.isBuffer(c) ? c : lineBytes(c), Buffer.from('\n')]));
        if (Buffer.isBuffer(c)) e.rejects.push({ at, reason: 'line_too_long' });
        else if (c.expect === 'loaded') e.loaded++;
        else e.rejects.push({ at, reason: c.expect });
      });
      e.size = size;
      expected.set(stream, e);
      await writeFile(join(dirs.runtimeDir, FILES[stream]), Buffer.concat(parts));
    }
    const shipper = await startShipper(shipperEnv(base, dirs, ws));
    for (const [stream, e] of expected) {
      await waitFor(async () => {
        const { rows } = await db.query('SELECT max(next_offset)::bigint AS n FROM ingest_offsets WHERE workspace_id = $1 AND stream = $2', [ws, stream]);
        return Number(rows[0].n) === e.size;
      }, `${stream} committed to its end`, 60_000);
    }
    shipper.child.kill('SIGTERM');
    expect((await shipper.exited).code, shipper.output().slice(-2000)).toBe(0);

    for (const [stream, e] of expected) {
      const { rows } = await db.query(`SELECT ${TAG_COLUMN[stream]} AS tag FROM ${TABLE[stream]} WHERE workspace_id = $1 ORDER BY id`, [ws]);
      const tags = rows.map((r) => r.tag as string);
      expect(tags.filter((t) => t.startsWith('good '))).toEqual(e.good);
      expect(rows.length - e.good.length, `${stream}: hostile lines stored`).toBe(e.loaded);
      const rejects = (await db.query('SELECT source_offset::int AS at, reason FROM ingest_rejects WHERE workspace_id = $1 AND stream = $2 ORDER BY source_offset', [ws, stream])).rows;
      expect(rejects).toEqual(e.rejects);
    }
  }, 120_000);
});
