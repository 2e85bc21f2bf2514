// Exactly once: the stream's committed offset is locked, checked and advanced
// in the same transaction as the COPY, so whatever a client resends, each line
// is stored once.

import { beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { freshDatabase, queryPool } from '../helpers/database.js';
import { ndjson, postLines } from '../helpers/http.js';
import { startTestReceiver } from '../helpers/receiver.js';

let url: string;
let base: string;
let db: pg.Pool;

beforeAll(async () => {
  url = await freshDatabase();
  // Up to 40 requests at once, from what would be many pods: here they share one address.
  base = (await startTestReceiver(url, { maxConnectionsPerPeer: 0 })).url;
  db = queryPool(url);
});

function commandLines(workspace: string, from: number, count: number): string[] {
  return Array.from({ length: count }, (_, i) => JSON.stringify({ command: `${workspace} cmd ${from + i}`, exit_code: 0, timestamp: 1763892000 + from + i }) + '\n');
}

async function storedCommands(workspace: string): Promise<string[]> {
  const { rows } = await db.query('SELECT command FROM command_log WHERE workspace_id = $1 ORDER BY id', [workspace]);
  return rows.map((r) => r.command);
}

describe('exactly once', () => {
  it('a duplicated request stores nothing the second time and counts duplicates', async () => {
    const body = commandLines('dup', 0, 5).join('');
    const first = await postLines(base, 'commands', body, { workspace: 'dup' });
    const again = await postLines(base, 'commands', body, { workspace: 'dup' });
    expect(first.body).toEqual({ accepted: 5, duplicates: 0, rejected: 0, next_offset: body.length });
    expect(again.body).toEqual({ accepted: 0, duplicates: 5, rejected: 0, next_offset: body.length });
    expect(await storedCommands('dup')).toHaveLength(5);
  });

  it('an overlapping request stores only the lines past the committed offset', async () => {
    const lines = commandLines('overlap', 0, 10);
    const firstSix = lines.slice(0, 6).join('');
    await postLines(base, 'commands', firstSix, { workspace: 'overlap' });
    // A retry that re-reads from line 3 and carries on to line 10.
    const from3 = Buffer.byteLength(lines.slice(0, 3).join(''));
    const res = await postLines(base, 'commands', lines.slice(3).join(''), { workspace: 'overlap', offset: from3 });
    expect(res.body).toMatchObject({ accepted: 4, duplicates: 3 });
    expect(await storedCommands('overlap')).toEqual(lines.map((l) => JSON.parse(l).command));
  });

  it('a request that starts beyond the committed offset is refused with 409 and where to resume', async () => {
    const lines = commandLines('gap', 0, 4);
    await postLines(base, 'commands', lines[0]!, { workspace: 'gap' });
    const res = await postLines(base, 'commands', lines[2]!, { workspace: 'gap', offset: Buffer.byteLength(lines[0]! + lines[1]!) });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ error: 'offset_gap', next_offset: Buffer.byteLength(lines[0]!) });
    expect(await storedCommands('gap')).toHaveLength(1);
  });

  it('each file generation is its own stream', async () => {
    const body = commandLines('gens', 0, 2).join('');
    await postLines(base, 'commands', body, { workspace: 'gens', source: 'a' });
    const res = await postLines(base, 'commands', body, { workspace: 'gens', source: 'b' });
    expect(res.body).toMatchObject({ accepted: 2, duplicates: 0 });
  });

  it('concurrent identical and overlapping requests store each line once', async () => {
    const lines = commandLines('conc', 0, 200);
    const offsets = [0];
    for (const l of lines) offsets.push(offsets.at(-1)! + Buffer.byteLength(l));
    // 40 requests: windows of 20 lines starting every 5 lines, each sent twice, all at once.
    const requests = [];
    for (let start = 0; start + 20 <= 200; start += 5) {
      const body = lines.slice(start, start + 20).join('');
      for (let k = 0; k < 2; k++) requests.push(postLines(base, 'commands', body, { workspace: 'conc', offset: offsets[start] }));
    }
    // Gaps are expected (a window can arrive before its predecessor): a client resends from next_offset.
    const answers = await Promise.all(requests);
    for (const a of answers) expect([200, 409]).toContain(a.status);
    let next = Math.max(...answers.filter((a) => a.status === 200).map((a) => a.body.next_offset));
    while (next < offsets.at(-1)!) {
      const start = offsets.indexOf(next);
      const res = await postLines(base, 'commands', lines.slice(start).join(''), { workspace: 'conc', offset: next });
      next = res.body.next_offset;
    }
    expect(await storedCommands('conc')).toEqual(lines.map((l) => JSON.parse(l).command));
  });

  it('two receivers on one database store each line once', async () => {
    const other = (await startTestReceiver(url)).url;
    const lines = commandLines('two', 0, 100);
    const body = lines.join('');
    const answers = await Promise.all([base, other, base, other].map((b) => postLines(b, 'commands', body, { workspace: 'two' })));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    expect(answers.reduce((n, a) => n + a.body.accepted, 0)).toBe(100);
    expect(answers.reduce((n, a) => n + a.body.duplicates, 0)).toBe(300);
    expect(await storedCommands('two')).toHaveLength(100);
  });

  it('a rejected line also counts once: resending does not duplicate the reject', async () => {
    const body = 'not json\n' + ndjson([{ command: 'ok', exit_code: 0, timestamp: 1 }]);
    await postLines(base, 'commands', body, { workspace: 'rej-once' });
    const again = await postLines(base, 'commands', body, { workspace: 'rej-once' });
    expect(again.body).toMatchObject({ accepted: 0, duplicates: 2, rejected: 0 });
    const { rows } = await db.query("SELECT count(*)::int AS n FROM ingest_rejects WHERE workspace_id = 'rej-once'");
    expect(rows[0].n).toBe(1);
  });
});
