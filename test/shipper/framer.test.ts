// frame: the next batch is the complete lines at the start of what was read,
// within the limits; a line without its newline waits; an over-long one is flagged.

import { describe, expect, it } from 'vitest';
import { frameLines, readWindow } from '../../shipper/tail/framer.js';

const limits = { maxEvents: 3, maxBytes: 20, maxLineBytes: 10 };
const frame = (text: string, l = limits) => {
  const buf = Buffer.alloc(64, 0x0a); // stale newlines past `length` must not count
  const n = buf.write(text);
  return frameLines(buf, n, l);
};

describe('framing', () => {
  it('takes complete lines up to the event limit', () => {
    expect(frame('a\nb\nc\nd\n')).toEqual({ kind: 'lines', bytes: 6, lines: 3 });
  });

  it('stops before the byte limit', () => {
    expect(frame('aaaaaaa\nbbbbbbb\ncccc\n')).toEqual({ kind: 'lines', bytes: 16, lines: 2 });
  });

  it('leaves a partial last line for later', () => {
    expect(frame('ab\ncd')).toEqual({ kind: 'lines', bytes: 3, lines: 1 });
    expect(frame('abcd')).toEqual({ kind: 'partial' });
  });

  it('sends one line over maxBytes but within maxLineBytes alone', () => {
    expect(frame('0123456789\nx\n', { maxEvents: 10, maxBytes: 4, maxLineBytes: 10 })).toEqual({ kind: 'lines', bytes: 11, lines: 1 });
  });

  it('flags a first line over the line limit, with or without its newline yet', () => {
    expect(frame('0123456789A\n')).toEqual({ kind: 'too_long' });
    expect(frame('0123456789AB')).toEqual({ kind: 'too_long' });
  });

  it('stops before a later over-long line, which then comes first next time', () => {
    expect(frame('ok\n0123456789AB\n', { ...limits, maxBytes: 64 })).toEqual({ kind: 'lines', bytes: 3, lines: 1 });
  });

  it('bytes are bytes: multibyte characters count by their UTF-8 length', () => {
    expect(frame('é🚀\nx\n', { maxEvents: 10, maxBytes: 64, maxLineBytes: 10 })).toEqual({ kind: 'lines', bytes: 9, lines: 2 });
  });

  it('reads a window of a full batch or one longest line and its newline', () => {
    expect(readWindow(limits)).toBe(20);
    expect(readWindow({ ...limits, maxLineBytes: 100 })).toBe(101);
  });
});
