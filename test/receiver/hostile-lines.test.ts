// Every hostile line is either stored or rejected with a reason: never both,
// never neither, and the good lines around it still load.

import { beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { freshDatabase, queryPool } from '../helpers/database.js';
import { postLines } from '../helpers/http.js';
import { startTestReceiver } from '../helpers/receiver.js';

let base: string;
let db: pg.Pool;
const MAX_LINE = 64 * 1024;

beforeAll(async () => {
  const url = await freshDatabase();
  base = (await startTestReceiver(url, { maxLineBytes: MAX_LINE })).url;
  db = queryPool(url);
});

type Expect = 'loaded' | string;
const cmd = (o: Record<string, unknown>) => JSON.stringify({ command: 'c', exit_code: 0, timestamp: '2026-01-01T00:00:00Z', ...o });
const ev = (o: Record<string, unknown>) => JSON.stringify({ event_type: 'e', timestamp: '2026-01-01T00:00:00Z', ...o });
const llm = (o: Record<string, unknown>) => JSON.stringify({ step_id: 's', prompt_context: {}, response: 'r', model: 'm', requested_at: '2026-01-01T00:00:00Z', ...o });

const CASES: Array<[string, 'commands' | 'events' | 'llm', string | Buffer, Expect]> = [
  ['plain command', 'commands', cmd({}), 'loaded'],
  ['tab, newline, CR and backslash in a string', 'commands', cmd({ command: 'a\tb\nc\rd\\e' }), 'loaded'],
  ['COPY end marker as a value', 'commands', cmd({ command: '\\.' }), 'loaded'],
  ['COPY null marker as a value', 'commands', cmd({ command: '\\N' }), 'loaded'],
  ['SQL in a value', 'commands', cmd({ command: "'); DROP TABLE command_log; --" }), 'loaded'],
  ['emoji and CJK', 'commands', cmd({ command: 'echo 🚀 漢字 ü' }), 'loaded'],
  ['unicode escapes of a valid surrogate pair', 'commands', '{"command":"\\ud83d\\ude80","exit_code":0,"timestamp":1}', 'loaded'],
  ['CRLF line end', 'commands', cmd({}) + '\r', 'loaded'],
  ['negative exit code', 'commands', cmd({ exit_code: -1 }), 'loaded'],
  ['extra unknown fields', 'commands', cmd({ extra: { deep: [1, 2] } }), 'loaded'],
  ['duplicate keys: the last wins', 'commands', '{"command":"a","command":"b","exit_code":0,"timestamp":1}', 'loaded'],
  ['epoch seconds with fraction', 'commands', cmd({ timestamp: 1763892000.123456 }), 'loaded'],
  ['ISO with offset', 'commands', cmd({ timestamp: '2026-11-23T10:00:00.5-05:30' }), 'loaded'],
  ['ISO without zone', 'commands', cmd({ timestamp: '2026-11-23 10:00:00' }), 'loaded'],
  ['ancient timestamp', 'commands', cmd({ timestamp: '0001-01-01T00:00:00Z' }), 'loaded'],
  ['far-future timestamp', 'commands', cmd({ timestamp: '9999-12-31T23:59:59Z' }), 'timestamp_too_far_ahead'],
  ['empty line', 'commands', '', 'empty_line'],
  ['not JSON', 'commands', 'hello world', 'bad_json'],
  ['truncated JSON', 'commands', '{"command":"ls","exit_co', 'bad_json'],
  ['byte order mark', 'commands', '\uFEFF' + cmd({}), 'bad_json'],
  ['JSON array', 'commands', '[1,2]', 'not_an_object'],
  ['JSON string', 'commands', '"ls"', 'not_an_object'],
  ['JSON null', 'commands', 'null', 'not_an_object'],
  ['missing command', 'commands', '{"exit_code":0,"timestamp":1}', 'missing_field'],
  ['null command', 'commands', cmd({ command: null }), 'missing_field'],
  ['exit code as string', 'commands', cmd({ exit_code: '0' }), 'wrong_type'],
  ['exit code fractional', 'commands', cmd({ exit_code: 1.5 }), 'wrong_type'],
  ['exit code beyond 32 bits', 'commands', cmd({ exit_code: 2 ** 31 }), 'out_of_range'],
  ['command as object', 'commands', cmd({ command: { a: 1 } }), 'wrong_type'],
  ['timestamp garbage', 'commands', cmd({ timestamp: 'yesterday' }), 'bad_timestamp'],
  ['timestamp 30 February', 'commands', cmd({ timestamp: '2026-02-30T00:00:00Z' }), 'bad_timestamp'],
  ['timestamp year 10000', 'commands', cmd({ timestamp: 253402300800 }), 'bad_timestamp'],
  ['timestamp as boolean', 'commands', cmd({ timestamp: true }), 'bad_timestamp'],
  ['NUL escape in a string', 'commands', '{"command":"a\\u0000b","exit_code":0,"timestamp":1}', 'nul_byte'],
  ['raw NUL byte', 'commands', Buffer.from('{"command":"a\0b","exit_code":0,"timestamp":1}'), 'bad_json'],
  ['lone surrogate escape', 'commands', '{"command":"\\ud800","exit_code":0,"timestamp":1}', 'invalid_unicode'],
  ['invalid UTF-8', 'commands', Buffer.concat([Buffer.from('{"command":"'), Buffer.from([0xc3, 0x28]), Buffer.from('","exit_code":0,"timestamp":1}')]), 'invalid_utf8'],
  ['binary garbage', 'commands', Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80, 0x90]), 'invalid_utf8'],
  ['over the line limit', 'commands', cmd({ command: 'x'.repeat(MAX_LINE) }), 'line_too_long'],
  ['event with data', 'events', ev({ data: { a: 'b' } }), 'loaded'],
  ['event with snapshot fields', 'events', ev({ current_step: 's2', connected: true, steps_completed: ['s1'], last_goss_passed: false }), 'loaded'],
  ['event data as string', 'events', ev({ data: 'x' }), 'wrong_type'],
  ['event connected as string', 'events', ev({ connected: 'yes' }), 'wrong_type'],
  ['event steps_completed with numbers', 'events', ev({ steps_completed: [1] }), 'wrong_type'],
  ['event deeply nested data', 'events', ev({ data: JSON.parse('{"a":'.repeat(200) + '1' + '}'.repeat(200)) }), 'too_deep'],
  ['event NUL in a data key', 'events', '{"event_type":"e","timestamp":1,"data":{"a\\u0000":1}}', 'nul_byte'],
  ['event huge integer in data', 'events', '{"event_type":"e","timestamp":1,"data":{"n":123456789012345678901234}}', 'out_of_range'],
  ['event 1e400 in data', 'events', '{"event_type":"e","timestamp":1,"data":{"n":1e400}}', 'out_of_range'],
  ['llm interaction', 'llm', llm({}), 'loaded'],
  ['llm prompt_context as array', 'llm', llm({ prompt_context: [1] }), 'wrong_type'],
  ['llm prompt_context missing', 'llm', '{"step_id":"s","response":"r","model":"m","requested_at":1}', 'missing_field'],
  ['llm NUL in prompt_context', 'llm', '{"step_id":"s","prompt_context":{"x":"\\u0000"},"response":"r","model":"m","requested_at":1}', 'nul_byte'],
  ['llm lone surrogate in prompt_context', 'llm', '{"step_id":"s","prompt_context":{"x":"\\udfff"},"response":"r","model":"m","requested_at":1}', 'invalid_unicode'],
];

describe('hostile lines', () => {
  it(`has at least 30 cases (${CASES.length})`, () => {
    expect(CASES.length).toBeGreaterThanOrEqual(30);
  });

  for (const [name, stream, line, expected] of CASES) {
    it(`${name}: ${expected === 'loaded' ? 'stored' : `rejected as ${expected}`}, and the good lines around it stored`, async () => {
      const ws = `hostile-${CASES.findIndex((c) => c[0] === name)}`;
      const good = stream === 'commands' ? cmd({ command: 'good' }) : stream === 'events' ? ev({ event_type: 'good' }) : llm({ response: 'good' });
      const body = Buffer.concat([Buffer.from(good + '\n'), Buffer.from(line), Buffer.from('\n' + good + '\n')]);
      const res = await postLines(base, stream, body, { workspace: ws });
      expect(res.status).toBe(200);
      const loaded = expected === 'loaded';
      expect(res.body).toEqual({ accepted: loaded ? 3 : 2, duplicates: 0, rejected: loaded ? 0 : 1, next_offset: body.length });
      const table = { commands: 'command_log', events: 'state_timeline', llm: 'llm_interactions' }[stream];
      const rows = await db.query(`SELECT count(*)::int AS n FROM ${table} WHERE workspace_id = $1`, [ws]);
      const rejects = await db.query('SELECT reason, source_offset, raw_length FROM ingest_rejects WHERE workspace_id = $1', [ws]);
      expect(rows.rows[0].n).toBe(loaded ? 3 : 2);
      if (loaded) {
        expect(rejects.rows).toEqual([]);
      } else {
        const lineLength = (typeof line === 'string' ? Buffer.byteLength(line) : line.length);
        expect(rejects.rows).toEqual([{ reason: expected, source_offset: String(good.length + 1), raw_length: String(lineLength) }]);
      }
    });
  }

  it('stores strings byte-exact, escapes included', async () => {
    const tricky = 'a\tb\nc\rd\\e \\. \\N 🚀 漢字 \u0001\u001f\u007f';
    await postLines(base, 'commands', cmd({ command: tricky }) + '\n', { workspace: 'exact' });
    const { rows } = await db.query("SELECT command FROM command_log WHERE workspace_id = 'exact'");
    expect(rows[0].command).toBe(tricky);
  });
});
