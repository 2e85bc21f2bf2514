// Vector-compatible bodies: a JSON array sent by Vector's http sink. With the
// seed's config Vector's file source does not parse lines, so each event is
// `{"message": "<raw line>", "file", "host", "source_type": "file",
// "timestamp": <read time>, "workspace_id"}`. Arrays of already-parsed objects
// (with `workspace_id` added by a remap) are accepted as well. These carry no
// offsets: delivery is at-least-once, as it was with Vector.

import { isValidId } from '../../shared/wire.js';
import { RequestError, type RejectReason } from '../errors.js';
import { MAX_JSON_DEPTH } from './json-value.js';
import { assertLineCount, judgeLine, judgeValue, linesBuilder, rowsEstimate, tooDeep, type Judged, type ParsedLines, type ParseLimits } from './parse.js';
import { jsonShape, parseCostEstimate } from './json-scan.js';
import type { TableSpec } from './records.js';

type Json = Record<string, unknown>;

function isVectorEnvelope(e: Json): boolean {
  return typeof e.message === 'string' && (e.source_type === 'file' || typeof e.file === 'string');
}

/**
 * Nesting beyond which a body is not parsed at all. Up to it, parsing is cheap,
 * and an event nested deeper than MAX_JSON_DEPTH is rejected on its own.
 */
const MAX_BODY_DEPTH = 4096;
/**
 * What parsing a body may cost, as a multiple of its size. Real Vector bodies
 * estimate at 2-5 times (envelopes about 2, parsed events with a `data` object
 * about 5) and cost less; a body of empty objects estimates at 24.
 */
export const MAX_PARSE_MULTIPLE = 8;
/** Below this size a body is cheap to parse whatever it holds. */
const SMALL_BODY_BYTES = 64 * 1024;

/**
 * `defaultWorkspace` is where events that name none go: the X-Workspace-Id
 * header, or the workspace of a per-workspace token.
 */
export function parseVectorArray(body: Buffer, table: TableSpec, defaultWorkspace: string | undefined, limits: ParseLimits): ParsedLines {
  const shape = jsonShape(body);
  if (shape.depth > MAX_BODY_DEPTH) throw new RequestError('bad_body', `the body is nested deeper than ${MAX_BODY_DEPTH} levels`);
  assertLineCount(shape.topLevelCommas + 1, limits);
  if (parseCostEstimate(shape) > MAX_PARSE_MULTIPLE * Math.max(body.length, SMALL_BODY_BYTES)) {
    throw new RequestError('bad_body', `the body holds too many JSON values for its size (${shape.containers} objects and arrays, ${shape.commas + 1} values in ${body.length} bytes): parsing it would cost over ${MAX_PARSE_MULTIPLE} times its size`);
  }
  let events: unknown;
  try {
    events = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new RequestError('bad_body', `the body is not valid JSON: ${(e as Error).message.slice(0, 200)}`);
  }
  if (!Array.isArray(events)) throw new RequestError('bad_body', 'a JSON body must be an array of events (Vector format)');

  const out = linesBuilder(rowsEstimate(body.length, events.length, defaultWorkspace ?? ''));
  events.forEach((event, index) => out.add(null, null, ...judgeEvent(event, index, table, defaultWorkspace, limits)));
  return out.done();
}

/** The event's workspace, and what the event became. */
function judgeEvent(event: unknown, index: number, table: TableSpec, defaultWorkspace: string | undefined, limits: ParseLimits): [string, Judged] {
  const source = Buffer.from(JSON.stringify(event) ?? 'null');
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    return [defaultWorkspace ?? '', judgeValue(event, source, table, '', limits)];
  }
  const rejected = (reason: RejectReason, detail: string): [string, Judged] => [defaultWorkspace ?? '', {
    reject: { reason, detail: `event ${index}: ${detail}`, raw: source.subarray(0, limits.rejectRawBytes), rawLength: source.length },
  }];
  const { workspace_id: ws, ...fields } = event as Json;
  const workspaceId = ws === undefined || ws === null || ws === '' ? defaultWorkspace : ws;
  if (workspaceId === undefined) return rejected('missing_field', 'workspace_id is required (in the event or X-Workspace-Id)');
  if (typeof workspaceId !== 'string' || !isValidId(workspaceId)) return rejected('wrong_type', 'workspace_id must be 1-253 printable characters');
  if (isVectorEnvelope(fields)) {
    const message = fields.message as string;
    if (!message.isWellFormed()) return rejected('invalid_unicode', 'message holds a lone surrogate');
    return [workspaceId, judgeLine(Buffer.from(message), table, workspaceId, limits)];
  }
  // As deep a line is rejected, ignored fields included, so is an event.
  if (tooDeep(source)) return rejected('too_deep', `nested deeper than ${MAX_JSON_DEPTH} levels`);
  return [workspaceId, judgeValue(fields, source, table, workspaceId, limits)];
}
