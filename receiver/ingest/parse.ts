// parse: request body → one outcome per line (a COPY row or a reject), each
// with the byte range it came from, so the loader can skip what is committed.

import { isUtf8 } from 'node:buffer';
import { setImmediate } from 'node:timers/promises';
import { RequestError, type RejectReason } from '../errors.js';
import { createRowBytes } from './copy-encode.js';
import type { StatusEvent } from './fold-status.js';
import { jsonShape } from './json-scan.js';
import { MAX_JSON_DEPTH } from './json-value.js';
import { Invalid, type TableSpec } from './records.js';
import type { WindowBounds } from './time-window.js';

export interface Reject {
  reason: RejectReason;
  detail: string;
  /** The line's bytes, capped; what ingest_rejects.raw keeps. */
  raw: Buffer;
  /** The line's full length in bytes. */
  rawLength: number;
}

/**
 * What became of one line. Kept until the line's transaction commits, so it
 * holds little: the row itself is bytes in its body's rows, and its time is
 * needed only as the body's oldest (ParsedLines).
 */
export interface LineOutcome {
  /** Byte offset of the line in its source file; null for Vector arrays. */
  offset: number | null;
  /** Offset just past the line's newline. */
  end: number | null;
  /** Workspace the line belongs to. */
  workspaceId: string;
  /** Where the line's COPY row ends in its body's rows; a row starts where the one before it ended. */
  rowEnd?: number;
  status?: StatusEvent;
  reject?: Reject;
}

/** A body's lines, and the COPY rows of those that became rows, back to back in line order. */
export interface ParsedLines {
  lines: LineOutcome[];
  rows: Buffer;
  /**
   * The oldest time among the rows (timestamp.ts's text), so that every
   * workspace of these lines has a row at least this new once they are
   * stored; undefined when a workspace may have none (no rows, or rejects).
   */
  oldest?: string;
}

/** What one line became, before it is placed: a COPY row with its time (and status event, for state events), or a reject. */
export type Judged = Pick<LineOutcome, 'status' | 'reject'> & { row?: string; time?: string };

export interface LinesBuilder {
  add(offset: number | null, end: number | null, workspaceId: string, judged: Judged): void;
  done(): ParsedLines;
}

/** A body's outcomes, each row written to the body's rows as it comes; `estimate` is rowsEstimate(). */
export function linesBuilder(estimate: number): LinesBuilder {
  const lines: LineOutcome[] = [];
  const rows = createRowBytes(estimate);
  let oldest: string | undefined;
  let rejects = 0;
  return {
    add(offset, end, workspaceId, judged) {
      if (judged.reject) rejects++;
      if (judged.time !== undefined && (oldest === undefined || judged.time < oldest)) oldest = judged.time;
      // Every field present, so all of a body's outcomes share one shape.
      lines.push({ offset, end, workspaceId, rowEnd: judged.row === undefined ? undefined : rows.add(judged.row), status: judged.status, reject: judged.reject });
    },
    done: () => ({ lines, rows: rows.bytes(), oldest: rejects === 0 ? oldest : undefined }),
  };
}

/** Room for a body's rows: its bytes, and per line the workspace id and a timestamp written out in full. */
export function rowsEstimate(bodyBytes: number, lines: number, workspaceId: string): number {
  return bodyBytes + lines * (Buffer.byteLength(workspaceId) + 32);
}

export interface ParseLimits {
  maxLineBytes: number;
  /** Every line costs an outcome here and a row or reject there, however short it is. */
  maxRequestLines: number;
  rejectRawBytes: number;
  /** Which timestamps the tables can take now (TimeWindow.current() when the body arrived). */
  window: WindowBounds;
}

/** Refuses a request with more lines than the limit, before any outcome is built (16 MiB of newlines is 16M lines). */
export function assertLineCount(count: number, limits: ParseLimits): void {
  if (count > limits.maxRequestLines) {
    throw new RequestError('too_many_lines', `the body holds ${count} lines or events; at most ${limits.maxRequestLines} per request (MAX_REQUEST_LINES)`);
  }
}

/** Native searches (memchr), not a JavaScript loop over every byte: this runs on every body. */
function countLines(body: Buffer): number {
  let count = 0;
  for (let i = body.indexOf(0x0a); i !== -1; i = body.indexOf(0x0a, i + 1)) count++;
  return body.length > 0 && body[body.length - 1] !== 0x0a ? count + 1 : count;
}

/** Nesting deeper than allowed needs at least this many `[` and `{`. */
const BRACKETS_TO_BE_TOO_DEEP = MAX_JSON_DEPTH + 2;

/** Counts brackets with native searches, stopping at the threshold: most lines hold a handful, and a shorter line cannot hold enough. */
function mayBeTooDeep(text: Buffer): boolean {
  if (text.length < BRACKETS_TO_BE_TOO_DEEP) return false;
  let n = 0;
  for (let i = text.indexOf(0x5b); i !== -1 && n < BRACKETS_TO_BE_TOO_DEEP; i = text.indexOf(0x5b, i + 1)) n++;
  for (let i = text.indexOf(0x7b); i !== -1 && n < BRACKETS_TO_BE_TOO_DEEP; i = text.indexOf(0x7b, i + 1)) n++;
  return n >= BRACKETS_TO_BE_TOO_DEEP;
}

/**
 * The line's own object, then values nested up to MAX_JSON_DEPTH. Measured on
 * the bytes, before parsing: JSON.parse of a 4 MiB line of `[` takes 200 MiB.
 * The byte-by-byte measure runs only on lines with enough brackets to fail it.
 */
export function tooDeep(text: Buffer): boolean {
  return mayBeTooDeep(text) && jsonShape(text).depth > MAX_JSON_DEPTH + 1;
}

function rejectOf(line: Buffer, reason: RejectReason, detail: string, limits: ParseLimits): Reject {
  return { reason, detail, raw: Buffer.from(line.subarray(0, limits.rejectRawBytes)), rawLength: line.length };
}

/**
 * Judges one line (without its newline). Used for native bodies and for the
 * raw lines Vector puts in `message`.
 */
export function judgeLine(line: Buffer, table: TableSpec, workspaceId: string, limits: ParseLimits, utf8Known = false): Judged {
  const text = line.length > 0 && line[line.length - 1] === 0x0d ? line.subarray(0, -1) : line; // CRLF files
  if (text.length === 0) return { reject: rejectOf(line, 'empty_line', 'the line is empty', limits) };
  if (line.length > limits.maxLineBytes) return { reject: rejectOf(line, 'line_too_long', `${line.length} bytes, limit ${limits.maxLineBytes}`, limits) };
  if (!utf8Known && !isUtf8(text)) return { reject: rejectOf(line, 'invalid_utf8', 'the line is not valid UTF-8', limits) };
  if (tooDeep(text)) {
    return { reject: rejectOf(line, 'too_deep', `nested deeper than ${MAX_JSON_DEPTH} levels`, limits) };
  }
  let value: unknown;
  try {
    value = JSON.parse(text.toString('utf8'));
  } catch (e) {
    return { reject: rejectOf(line, 'bad_json', (e as Error).message.slice(0, 200), limits) };
  }
  return judgeValue(value, line, table, workspaceId, limits);
}

/** Judges an already-parsed line; `line` is its source text, kept when it is rejected. */
export function judgeValue(value: unknown, line: Buffer, table: TableSpec, workspaceId: string, limits: ParseLimits): Judged {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { reject: rejectOf(line, 'not_an_object', `got ${Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value}`, limits) };
  }
  try {
    const built = table.toRow(value as Record<string, unknown>, workspaceId);
    const outside = limits.window.problem(table.table, built.time);
    return outside ? { reject: rejectOf(line, outside.reason, outside.detail, limits) } : built;
  } catch (e) {
    if (e instanceof Invalid) return { reject: rejectOf(line, e.reason, e.detail, limits) };
    throw e;
  }
}

/** Lines judged between two turns of the event loop. */
const LINES_PER_TURN = 1_000;

/**
 * Splits a native body (the exact bytes of complete lines starting at
 * `baseOffset` in the source file). A last line without its newline is taken
 * as complete: the client declares where its lines end. It gives the event
 * loop a turn every LINES_PER_TURN lines: judging a 4 MiB body takes 150 ms,
 * and meanwhile the COPY streams of other requests would stall, leaving
 * PostgreSQL idle.
 */
export async function parseNdjson(body: Buffer, baseOffset: number, table: TableSpec, workspaceId: string, limits: ParseLimits): Promise<ParsedLines> {
  const count = countLines(body);
  assertLineCount(count, limits);
  const utf8Known = isUtf8(body);
  const out = linesBuilder(rowsEstimate(body.length, count, workspaceId));
  let start = 0;
  for (let n = 1; start < body.length; n++) {
    if (n % LINES_PER_TURN === 0) await setImmediate();
    const nl = body.indexOf(0x0a, start);
    const stop = nl === -1 ? body.length : nl;
    const next = nl === -1 ? body.length : nl + 1;
    out.add(baseOffset + start, baseOffset + next, workspaceId, judgeLine(body.subarray(start, stop), table, workspaceId, limits, utf8Known));
    start = next;
  }
  return out.done();
}
