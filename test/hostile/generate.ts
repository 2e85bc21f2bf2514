// The corpus's large cases are generated, not stored: a 10 MB line, a gzip
// bomb that decodes to 1 GiB, Vector arrays of millions of elements. The case
// names the generator and its size; the bytes are the same on every run.

import { gzipSync } from 'node:zlib';
import { goodLine } from './good-lines.js';

export type Generated = { generate: string } & Record<string, unknown>;

const GOOD = (tag: string) => `${goodLine('commands', tag)}\n`;

/** gzip of `decodedBytes` copies of one byte: one member per MiB (a gzip body may hold several), so the bomb is never whole here either. */
function gzipBomb(decodedBytes: number, fill: number): Buffer {
  const chunk = Buffer.alloc(1024 * 1024, fill);
  const parts: Buffer[] = [];
  const member = gzipSync(chunk, { level: 9 });
  for (let left = decodedBytes; left > 0; left -= chunk.length) {
    parts.push(left >= chunk.length ? member : gzipSync(chunk.subarray(0, left), { level: 9 }));
  }
  return Buffer.concat(parts);
}

const GENERATORS: Record<string, (o: Record<string, any>, fill: (t: string) => string) => Buffer> = {
  'huge-line': (o) => Buffer.concat([Buffer.from(GOOD('good 1')), Buffer.from(`{"command":"${'x'.repeat(o.bytes - 60)}","exit_code":0,"timestamp":1}\n`), Buffer.from(GOOD('good 2'))]),
  repeat: (o) => Buffer.from(String(o.text).repeat(o.count) + (o.then ?? '')),
  'gzip-bomb': (o) => gzipBomb(o.decodedBytes, o.fill),
  'truncated-gzip': () => {
    const whole = gzipSync(Buffer.from(GOOD('good 1') + GOOD('good 2')));
    return whole.subarray(0, whole.length - 12);
  },
  'two-gzip-members': () => Buffer.concat([gzipSync(Buffer.from(GOOD('good 1'))), gzipSync(Buffer.from(GOOD('good 2')))]),
  'huge-array-line': (o) => Buffer.from(`{"step_id":"s","response":"r","model":"m","requested_at":1,"prompt_context":{"a":[${'0,'.repeat(o.elements - 1)}0]}}\n`),
  'vector-array': (o, fill) => {
    const element = fill(String(o.element));
    return Buffer.from(`[${`${element},`.repeat(o.count - 1)}${element}]`);
  },
  'vector-huge-event': (o, fill) => {
    const element = String(o.element ?? '0');
    return Buffer.from(fill(`[{"command":"v","exit_code":0,"timestamp":1,"workspace_id":"{{ws}}","payload":[${`${element},`.repeat(o.elements - 1)}${element}]}]`));
  },
};

export function generate(g: Generated, fill: (text: string) => string): Buffer {
  const make = GENERATORS[g.generate];
  if (!make) throw new Error(`the corpus names an unknown generator ${g.generate}`);
  return make(g, fill);
}
