// The three line streams: which fields each line must have, and the COPY row
// it becomes in the seed's table (copy-encode.ts's format, written as one
// template string: an array joined was measurable at a million rows). The
// accepted shapes are documented in the README ("What the receiver accepts").

import type { LineStream } from '../../shared/wire.js';
import type { PartitionedTable } from '../db/partitions.js';
import type { RejectReason } from '../errors.js';
import { copyJson, copyNullableText, copyText, COPY_NULL } from './copy-encode.js';
import { statusFields, type StatusEvent } from './fold-status.js';
import { jsonValueProblem, stringProblem } from './json-value.js';
import { toUtcTimestamp } from './timestamp.js';

type Json = Record<string, unknown>;

export interface Built {
  row: string;
  /** The row's time (timestamp.ts's UTC text): its partition, and whether it is inside the time window. */
  time: string;
  status?: StatusEvent;
}

export interface TableSpec {
  stream: LineStream;
  table: PartitionedTable;
  copySql: string;
  /** The line's COPY row; throws `Invalid` when a field is missing or wrong. */
  toRow(line: Json, workspaceId: string): Built;
}

/**
 * A field problem, thrown rather than returned: rejects are rare, and a
 * result object per accepted line was measurable at a million lines a second.
 */
export class Invalid {
  constructor(readonly reason: RejectReason, readonly detail: string) {}
}

/** Absent and null alike. Each field is read once: a keyed read per check was measurable. */
function present(v: unknown): boolean {
  return v !== undefined && v !== null;
}

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

function checked(s: string, key: string): string {
  const p = stringProblem(s, key);
  if (p) throw new Invalid(p.reason, p.detail);
  return s;
}

function aString(v: unknown, key: string): string {
  if (typeof v !== 'string') throw new Invalid('wrong_type', `${key}: expected string, got ${typeName(v)}`);
  return checked(v, key);
}

function str(o: Json, key: string): string {
  const v = o[key];
  if (!present(v)) throw new Invalid('missing_field', `${key} is required`);
  return aString(v, key);
}

function optStr(o: Json, key: string): string | null {
  const v = o[key];
  return present(v) ? aString(v, key) : null;
}

function optBool(o: Json, key: string): boolean | null {
  const v = o[key];
  if (!present(v)) return null;
  if (typeof v !== 'boolean') throw new Invalid('wrong_type', `${key}: expected boolean, got ${typeName(v)}`);
  return v;
}

function int32(o: Json, key: string): number {
  const v = o[key];
  if (!present(v)) throw new Invalid('missing_field', `${key} is required`);
  if (typeof v === 'number' && !Number.isFinite(v)) throw new Invalid('out_of_range', `${key}: too large for a double`);
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new Invalid('wrong_type', `${key}: expected integer, got ${typeName(v) === 'number' ? String(v) : typeName(v)}`);
  if (v < -2147483648 || v > 2147483647) throw new Invalid('out_of_range', `${key}: ${v} does not fit a 32-bit integer`);
  return v;
}

function timestamp(o: Json, key: string): string {
  const v = o[key];
  if (!present(v)) throw new Invalid('missing_field', `${key} is required`);
  const ts = toUtcTimestamp(v);
  if (ts === undefined) throw new Invalid('bad_timestamp', `${key}: ${JSON.stringify(v).slice(0, 80)} is not ISO-8601 or epoch seconds in years 1-9999`);
  return ts;
}

function object(o: Json, key: string): Json {
  const v = o[key];
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Invalid('wrong_type', `${key}: expected object, got ${typeName(v)}`);
  const p = jsonValueProblem(v, key);
  if (p) throw new Invalid(p.reason, p.detail);
  return v as Json;
}

function optObject(o: Json, key: string): Json | null {
  return present(o[key]) ? object(o, key) : null;
}

function stringList(o: Json, key: string): void {
  const v = o[key];
  if (!present(v)) return;
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw new Invalid('wrong_type', `${key}: expected array of strings`);
  v.forEach((s: string) => checked(s, key));
}

/** A body's rows all name one workspace (a Vector array's mostly): its COPY text is computed once. */
const lastWorkspace = { id: '', text: '' };

function workspaceText(ws: string): string {
  if (ws !== lastWorkspace.id) {
    lastWorkspace.text = copyText(ws);
    lastWorkspace.id = ws;
  }
  return lastWorkspace.text;
}

const commands: TableSpec = {
  stream: 'commands',
  table: 'command_log',
  copySql: 'COPY command_log (workspace_id, command, exit_code, "timestamp") FROM STDIN',
  toRow: (line, ws) => {
    const command = copyText(str(line, 'command'));
    const exitCode = String(int32(line, 'exit_code'));
    const at = timestamp(line, 'timestamp');
    return { row: `${workspaceText(ws)}\t${command}\t${exitCode}\t${at}\n`, time: at };
  },
};

/**
 * Fields of a state event: those with their own timeline column, and the
 * snapshot fields toRow checks by name. Everything else is kept in `data`
 * once checked as any JSON value.
 */
const TIMELINE_COLUMN = 1, SNAPSHOT_FIELD = 2;
const EVENT_FIELDS = new Map([
  ...['event_type', 'step_id', 'data', 'timestamp'].map((k) => [k, TIMELINE_COLUMN] as const),
  ...['workshop_name', 'current_step', 'connected', 'last_goss_passed', 'steps_completed'].map((k) => [k, SNAPSHOT_FIELD] as const),
]);

/**
 * A state event's data as COPY text, the last one remembered: nearly every
 * event of a workspace carries the same extras (its workshop's name), and
 * JSON.stringify of a one-key object was 0.5 µs of the receiver's 7.5 per
 * event on Node 20. Only flat data is compared; nested values are encoded.
 */
const lastData = { keys: [] as string[], values: [] as unknown[], text: '' };

function dataText(data: Json): string {
  let n = 0;
  for (const key in data) {
    const value = data[key];
    if (typeof value === 'object' && value !== null) return copyJson(data);
    if (lastData.keys[n] !== key || lastData.values[n] !== value) return rememberData(data);
    n++;
  }
  return n === lastData.keys.length ? lastData.text : rememberData(data);
}

function rememberData(data: Json): string {
  lastData.keys = Object.keys(data);
  lastData.values = Object.values(data);
  lastData.text = copyJson(data);
  return lastData.text;
}

const events: TableSpec = {
  stream: 'events',
  table: 'state_timeline',
  copySql: 'COPY state_timeline (workspace_id, event_type, step_id, data, "timestamp") FROM STDIN',
  toRow: (line, ws) => {
    const eventType = str(line, 'event_type');
    const stepId = optStr(line, 'step_id');
    const at = timestamp(line, 'timestamp');
    optStr(line, 'workshop_name');
    optStr(line, 'current_step');
    optBool(line, 'connected');
    optBool(line, 'last_goss_passed');
    stringList(line, 'steps_completed');
    // Snapshot fields (and anything else the workspace adds) go into data, so
    // nothing written is dropped and the timeline alone can rebuild the status.
    // The parsed line is ours: its data object takes them in place.
    let data = optObject(line, 'data');
    for (const key in line) {
      const field = EVENT_FIELDS.get(key);
      if (field === TIMELINE_COLUMN) continue;
      const value = line[key];
      if (field === undefined) {
        const p = jsonValueProblem(value, key) ?? stringProblem(key, 'field name');
        if (p) throw new Invalid(p.reason, p.detail);
      }
      data ??= {};
      // A key "__proto__" (JSON.parse makes it an own property) stays one, as any other key.
      if (key === '__proto__') Object.defineProperty(data, key, { value, enumerable: true, writable: true, configurable: true });
      else data[key] = value;
    }
    return {
      row: `${workspaceText(ws)}\t${copyText(eventType)}\t${copyNullableText(stepId)}\t${data === null ? COPY_NULL : dataText(data)}\t${at}\n`,
      time: at,
      status: { at, fields: statusFields(eventType, stepId, data) },
    };
  },
};

const llm: TableSpec = {
  stream: 'llm',
  table: 'llm_interactions',
  copySql: 'COPY llm_interactions (workspace_id, step_id, student_question, prompt_context, response, model, requested_at) FROM STDIN',
  toRow: (line, ws) => {
    if (!present(line.prompt_context)) throw new Invalid('missing_field', 'prompt_context is required');
    const stepId = copyText(str(line, 'step_id'));
    const question = copyNullableText(optStr(line, 'student_question'));
    const context = copyJson(object(line, 'prompt_context'));
    const response = copyText(str(line, 'response'));
    const model = copyText(str(line, 'model'));
    const at = timestamp(line, 'requested_at');
    return { row: `${workspaceText(ws)}\t${stepId}\t${question}\t${context}\t${response}\t${model}\t${at}\n`, time: at };
  },
};

export const TABLES: Record<LineStream, TableSpec> = { commands, events, llm };
