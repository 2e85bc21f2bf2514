// Property: any string the receiver accepts comes back from PostgreSQL
// byte-exact, whatever escapes, control characters or unicode it holds.

import fc from 'fast-check';
import { beforeAll, expect, it } from 'vitest';
import type pg from 'pg';
import { freshDatabase, queryPool } from '../helpers/database.js';
import { postLines } from '../helpers/http.js';
import { startTestReceiver } from '../helpers/receiver.js';

let base: string;
let db: pg.Pool;

beforeAll(async () => {
  const url = await freshDatabase();
  base = (await startTestReceiver(url)).url;
  db = queryPool(url);
});

const ESCAPE_HEAVY = fc.constantFrom('\\', '\t', '\n', '\r', '\\.', '\\N', '\\t', '"', "'", ',', '\u0001', '\u001b', '\u007f', '\u0085', '\u2028', '\u2029', '\ufeff', '\uffff', '🚀', '漢', 'é', 'e\u0301');
/** Strings without U+0000 or lone surrogates: everything PostgreSQL text can hold. */
const storableString = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: fc.oneof(ESCAPE_HEAVY, fc.string({ unit: 'binary', maxLength: 1 })), maxLength: 60 }),
  fc.string({ unit: 'binary', minLength: 1000, maxLength: 5000 }),
).map((s) => s.replaceAll('\0', '').toWellFormed());

it('10,000 random strings round-trip through COPY byte-exact', async () => {
  const strings = fc.sample(storableString, { numRuns: 10_000, seed: 20261123 });
  const lines = strings.map((s, i) => JSON.stringify({ command: s, exit_code: i, timestamp: 1 }) + '\n');
  // Several requests, like a shipper's batches.
  let offset = 0;
  for (let i = 0; i < lines.length; i += 2500) {
    const body = lines.slice(i, i + 2500).join('');
    const res = await postLines(base, 'commands', body, { workspace: 'roundtrip', offset });
    expect(res.body).toMatchObject({ accepted: Math.min(2500, lines.length - i), rejected: 0 });
    offset += Buffer.byteLength(body);
  }
  const { rows } = await db.query<{ command: string; exit_code: number }>("SELECT command, exit_code FROM command_log WHERE workspace_id = 'roundtrip' ORDER BY exit_code");
  expect(rows).toHaveLength(strings.length);
  const mismatches = rows.filter((r) => Buffer.compare(Buffer.from(r.command), Buffer.from(strings[r.exit_code]!)) !== 0);
  expect(mismatches).toEqual([]);
});

it('jsonb values round-trip too (prompt_context)', async () => {
  const values = fc.sample(fc.dictionary(storableString, storableString, { maxKeys: 4 }), { numRuns: 2000, seed: 7 });
  const body = values.map((v, i) => JSON.stringify({ step_id: String(i), prompt_context: v, response: 'r', model: 'm', requested_at: 1 }) + '\n').join('');
  const res = await postLines(base, 'llm', body, { workspace: 'roundtrip-json' });
  expect(res.body).toMatchObject({ accepted: values.length, rejected: 0 });
  const { rows } = await db.query("SELECT step_id, prompt_context FROM llm_interactions WHERE workspace_id = 'roundtrip-json'");
  for (const r of rows) expect(r.prompt_context).toEqual(values[Number(r.step_id)]);
});

it('a row longer than a COPY chunk, multibyte and escaped, round-trips between short ones', async () => {
  const commands = ['short', `${'漢🚀\t\\é'.repeat(40_000)}end`, 'after'];
  const body = commands.map((command, i) => JSON.stringify({ command, exit_code: i, timestamp: 1 }) + '\n').join('');
  const res = await postLines(base, 'commands', body, { workspace: 'roundtrip-long' });
  expect(res.body).toMatchObject({ accepted: 3, rejected: 0 });
  const { rows } = await db.query<{ command: string }>("SELECT command FROM command_log WHERE workspace_id = 'roundtrip-long' ORDER BY exit_code");
  expect(rows.map((r) => r.command)).toEqual(commands);
});
