// A Vector config (parsed TOML) as ferry-shipper's environment. Every setting
// of every component ends in one of three lists: translated (it became an
// environment entry), not needed (ferry does the same thing another way, or
// by itself), or not translated (ferry cannot do it; the reason says why).
// Only what the platform's sidecar used is understood: file sources, `remap`
// transforms that add `workspace_id`, http sinks posting to
// `<base>/ingest/<stream>`, and an aws_s3 sink for the recording.

import { posix } from 'node:path';
import type { Setting } from '../../shared/env.js';
import type { LineStream } from '../../shared/wire.js';
import { batchSettings, SHIPPER_SPEC } from '../config.js';
import { literal, literalText, parseTemplate, vectorText, withoutSuffix, type Template } from './interpolation.js';
import { CREDENTIALS_DIR } from './pod-spec.js';

/** One entry of the shipper container's env: a value from the Vector config, or (not in it) a Secret key or a pod field. */
export interface EnvEntry {
  name: string;
  value?: Template;
  /** Always optional (k8s/workspace/classic/pod.yaml): a missing Secret leaves the variable unset. */
  secret?: { name: string; key: string };
  fieldRef?: string;
  /** The Vector settings it came from. */
  from: string[];
  /** Why an entry that is not in the Vector config is there. */
  why?: string;
}

export interface Finding {
  /** Dotted path, e.g. `sinks.commands_out.batch.timeout_secs`. */
  setting: string;
  value?: unknown;
  reason: string;
}

export interface Pipeline {
  name: string;
  file: string;
  stream: LineStream;
  /** source → transforms → sink, by component id. */
  route: string[];
}

export interface Translation {
  env: EnvEntry[];
  pipelines: Pipeline[];
  runtimeDir?: string;
  notNeeded: Finding[];
  untranslated: Finding[];
}

type Table = Record<string, unknown>;
type Component = { kind: 'sources' | 'transforms' | 'sinks'; id: string; type: string; settings: Table };

const isTable = (v: unknown): v is Table => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
const path = (c: Component, key: string) => `${c.kind}.${c.id}.${key}`;

/** `batch.max_events` for `{batch: {max_events}}`: Vector's dotted keys and nested tables are the same thing. */
function flatten(t: Table, prefix = ''): Array<[string, unknown]> {
  return Object.entries(t).flatMap(([k, v]) => (isTable(v) && Object.keys(v).length > 0 ? flatten(v, `${prefix}${k}.`) : [[`${prefix}${k}`, v] as [string, unknown]]));
}

const WHY = {
  readFrom: 'ferry reads a file it has no checkpoint for from its beginning, and resumes from its checkpoint after a restart',
  checkpoints: 'checkpoints live in STATE_DIR, the shipper\'s own volume (ferry-state)',
  fingerprint: 'ferry tells files apart by inode and a hash of their first line (the generation id)',
  eventFields: 'the native protocol sends each line as written; workspace, file generation and offset travel in headers',
  batchTimeout: 'a line never waits for a timer in ferry, only for the request before it: what there is goes out as soon as the previous request is answered',
  buffer: 'the file is the buffer: ferry reads only what it can send next, and checkpoints after the receiver\'s answer',
  acks: 'ferry checkpoints a line only after the receiver has stored it',
  healthcheck: 'ferry-shipper needs no health check of the receiver; ferry-receiver answers Vector\'s (HEAD) while both run',
  retries: 'ferry retries without end (from 100 ms, doubling, with jitter, honouring Retry-After): the data stays in the file meanwhile',
  concurrency: 'ferry sends one request at a time per file, in order',
  httpEncoding: 'ferry sends the lines as written (application/x-ndjson); ferry-receiver also takes Vector\'s JSON arrays',
  s3Keys: 'ferry names its objects itself: segments while the file grows, then recordings/<WORKSPACE_ID>/session.cast',
  s3Batch: 'ferry uploads the new complete lines every RECORDING_SYNC_INTERVAL_MS, and the whole file after RECORDING_IDLE_MS without growth and at shutdown',
  s3Receiver: 'the shipper holds no object-store settings or credentials: the receiver presigns every upload for the workspace\'s own prefix (set the store\'s endpoint, region and identities on ferry-receiver)',
  s3Bytes: 'ferry uploads the recording byte-identical (uncompressed, not re-encoded), so that the live page can play it as it is',
  remapErrors: 'a program that only sets workspace_id to a string cannot fail',
  metrics: 'ferry-shipper serves its own metrics (ferry_shipper_*) on METRICS_PORT, /metrics',
  sameMethod: 'ferry posts too',
};

/** What became of one setting. */
type Outcome = { to: 'env'; name: string; value: Template; spec?: Setting<unknown>; raw: unknown } | { to: 'notNeeded'; reason: string } | { to: 'untranslated'; reason: string } | { to: 'done' };

const notNeeded = (reason: string): Outcome => ({ to: 'notNeeded', reason });
const untranslated = (reason: string): Outcome => ({ to: 'untranslated', reason });
const done: Outcome = { to: 'done' };

function text(value: unknown): Template | { problem: string } {
  if (typeof value === 'string') return parseTemplate(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return literal(String(value));
  return { problem: `expected a string or a number, found ${JSON.stringify(value)}` };
}

function toEnv(name: string, value: unknown, spec?: Setting<unknown>, convert: (n: number) => number = (n) => n): Outcome {
  const t = typeof value === 'number' ? literal(String(convert(value))) : text(value);
  return 'problem' in t ? untranslated(t.problem) : { to: 'env', name, value: t, spec, raw: value };
}

// --- remap programs ---------------------------------------------------------

/** The statements of a VRL program: split at newlines and `;`, comments dropped, strings kept whole. */
function statements(program: string): string[] {
  const out: string[] = [];
  let current = '';
  let quote: string | undefined;
  let comment = false;
  for (let i = 0; i < program.length; i++) {
    const c = program[i]!;
    if (comment) { if (c === '\n') comment = false; else continue; }
    if (quote) {
      current += c;
      if (c === '\\') current += program[++i] ?? '';
      else if (c === quote) quote = undefined;
    } else if (c === '\n' || c === ';') {
      out.push(current.trim());
      current = '';
    } else if (c === '#') {
      comment = true;
      out.push(current.trim());
      current = '';
    } else {
      if (c === '"' || c === "'") quote = c;
      current += c;
    }
  }
  out.push(current.trim());
  return out.filter(Boolean);
}

/** A VRL string literal's content, where its escapes are JSON's (the usual ones). */
function jsonString(body: string): string | undefined {
  try {
    return JSON.parse(`"${body}"`) as string;
  } catch {
    return undefined;
  }
}

/** The value a remap program gives workspace_id, or the statement that does something else. */
function remapWorkspaceId(program: string): { value?: Template } | { problem: string } {
  let value: Template | undefined;
  for (const s of statements(program)) {
    const m = /^\.(?:workspace_id|"workspace_id")\s*=\s*(.+)$/.exec(s);
    const rhs = m?.[1]!.trim();
    const str = rhs && /^"((?:[^"\\]|\\.)*)"$/.exec(rhs);
    const env = rhs && /^get_env_var!?\(\s*"([A-Za-z_][A-Za-z0-9_]*)"\s*\)$/.exec(rhs);
    const unquoted = str ? jsonString(str[1]!) : undefined;
    if (unquoted !== undefined) {
      const t = parseTemplate(unquoted);
      if ('problem' in t) return t;
      value = t;
    } else if (env) {
      value = { parts: [{ variable: env[1]! }] };
    } else {
      return { problem: `the program does more than add workspace_id from a string or an environment variable: \`${s}\`; ferry ships each line as written` };
    }
  }
  return { value };
}

// --- the component graph ----------------------------------------------------

function components(config: Table, kind: Component['kind']): Component[] {
  const all = config[kind];
  if (!isTable(all)) return [];
  return Object.entries(all).map(([id, settings]) => ({ kind, id, type: isTable(settings) && typeof settings.type === 'string' ? settings.type : '', settings: isTable(settings) ? settings : {} }));
}

function inputsOf(c: Component, byId: Map<string, Component>): Component[] {
  const inputs = Array.isArray(c.settings.inputs) ? c.settings.inputs.filter((i): i is string => typeof i === 'string') : [];
  return inputs.flatMap((pattern) => {
    const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
    return [...byId.values()].filter((x) => x.kind !== 'sinks' && re.test(x.id));
  });
}

/** Every way from a source to this sink: [source, ...transforms]. */
function routesTo(sink: Component, byId: Map<string, Component>): Component[][] {
  const walk = (c: Component, seen: Set<string>): Component[][] => {
    if (c.kind === 'sources') return [[c]];
    if (seen.has(c.id)) return [];
    return inputsOf(c, byId).flatMap((i) => walk(i, new Set([...seen, c.id])).map((r) => [...r, c]));
  };
  return inputsOf(sink, byId).flatMap((i) => walk(i, new Set()));
}

// --- per-type settings ------------------------------------------------------

type Rules = (key: string, value: unknown) => Outcome | Outcome[];

const fileSourceRules: Rules = (key, value) => {
  if (key === 'include' || key === 'type') return done;
  if (key === 'read_from') return value === 'beginning' ? notNeeded(WHY.readFrom) : untranslated('ferry ships every file from its beginning');
  if (key === 'start_at_beginning') return value === true ? notNeeded(WHY.readFrom) : untranslated('ferry ships every file from its beginning');
  if (key === 'ignore_checkpoints') return value === false ? notNeeded(WHY.checkpoints) : untranslated('ferry always resumes from its checkpoints');
  if (key === 'data_dir') return notNeeded(WHY.checkpoints);
  if (key.startsWith('fingerprint.')) return notNeeded(WHY.fingerprint);
  if (key === 'max_line_bytes') return toEnv(SHIPPER_SPEC.maxLineBytes.env, value, SHIPPER_SPEC.maxLineBytes);
  if (key === 'line_delimiter') return value === '\n' ? notNeeded('ferry splits lines at \\n too') : untranslated('ferry splits lines at \\n only');
  if (key === 'encoding.charset') return String(value).toLowerCase().replace('-', '') === 'utf8' ? notNeeded('ferry reads UTF-8 too') : untranslated('ferry reads UTF-8 only');
  if (['host_key', 'file_key', 'offset_key'].includes(key)) return notNeeded(WHY.eventFields);
  if (key === 'glob_minimum_cooldown_ms') return notNeeded('ferry is told of changes by the kernel (inotify) and also looks every POLL_INTERVAL_MS');
  if (key === 'oldest_first' || key === 'max_read_bytes') return notNeeded('each file is a pipeline of its own, read in windows of one batch');
  if (key === 'rotate_wait_secs') return notNeeded('a replaced file is read to its end through the handle still open before the new one starts');
  if (key.startsWith('acknowledgements')) return notNeeded(WHY.acks);
  if (key.startsWith('multiline.')) return untranslated('ferry ships single lines, one JSON document per line');
  if (key === 'remove_after_secs') return untranslated('ferry never deletes the workspace\'s files');
  return untranslated('ferry\'s file tailing has no such setting');
};

const remapRules: Rules = (key, value) => {
  if (key === 'type' || key === 'inputs' || key === 'source') return done;
  if (['drop_on_error', 'drop_on_abort', 'reroute_dropped', 'timezone'].includes(key)) return notNeeded(WHY.remapErrors);
  if (key === 'file' || key === 'files') return untranslated(`a VRL program in a file (${JSON.stringify(value)}) is not read: put it in \`source\` to have it translated`);
  return untranslated('ferry\'s remap counterpart (WORKSPACE_ID) has no such setting');
};

function httpSinkRules(pipelines: Pipeline[]): Rules {
  // One Vector sink may feed several ferry pipelines (one per file): each gets the limit.
  const perPipeline = (which: 'maxEvents' | 'maxBytes', value: unknown) => pipelines.map((p) => toEnv(batchSettings(p)[which].env, value, batchSettings(p)[which]));
  return (key, value) => {
    if (key === 'type' || key === 'inputs' || key === 'uri') return done;
    if (key === 'method') return String(value).toLowerCase() === 'post' ? notNeeded(WHY.sameMethod) : untranslated('ferry posts to the receiver');
    if (key === 'encoding.codec') return notNeeded(WHY.httpEncoding);
    if (key.startsWith('framing.')) return notNeeded(WHY.httpEncoding);
    if (key === 'batch.max_events') return perPipeline('maxEvents', value);
    if (key === 'batch.max_bytes') return perPipeline('maxBytes', value);
    if (key === 'batch.timeout_secs') return notNeeded(WHY.batchTimeout);
    if (key === 'compression') return value === 'gzip' ? toEnv(SHIPPER_SPEC.gzip.env, 'true', SHIPPER_SPEC.gzip) : value === 'none' ? notNeeded('ferry sends uncompressed bodies by default too') : untranslated('ferry compresses with gzip or not at all (GZIP)');
    if (key === 'request.timeout_secs') return toEnv(SHIPPER_SPEC.requestTimeoutMs.env, value, SHIPPER_SPEC.requestTimeoutMs, (s) => s * 1000);
    if (key === 'request.retry_max_duration_secs') return toEnv(SHIPPER_SPEC.retryMaxDelayMs.env, value, SHIPPER_SPEC.retryMaxDelayMs, (s) => s * 1000);
    if (key.startsWith('request.retry_')) return notNeeded(WHY.retries);
    if (key.startsWith('request.concurrency') || key.startsWith('request.rate_limit') || key.startsWith('request.adaptive_concurrency')) return notNeeded(WHY.concurrency);
    if (key === 'request.headers.Authorization' || key === 'request.headers.authorization') {
      const m = typeof value === 'string' ? /^Bearer\s+(.+)$/i.exec(value) : null;
      return m ? toEnv(SHIPPER_SPEC.ingestToken.env, m[1]) : untranslated('ferry authenticates with a bearer token (INGEST_TOKEN) only');
    }
    if (key === 'auth.strategy') return value === 'bearer' ? notNeeded('ferry sends INGEST_TOKEN as a bearer token') : untranslated('ferry authenticates with a bearer token (INGEST_TOKEN) only');
    if (key === 'auth.token') return toEnv(SHIPPER_SPEC.ingestToken.env, value);
    if (key.startsWith('buffer.')) return notNeeded(WHY.buffer);
    if (key.startsWith('acknowledgements')) return notNeeded(WHY.acks);
    if (key.startsWith('healthcheck')) return notNeeded(WHY.healthcheck);
    if (key.startsWith('tls.')) return untranslated('ferry-shipper trusts the CAs Node trusts; add one with NODE_EXTRA_CA_CERTS');
    return untranslated('ferry\'s delivery has no such setting');
  };
}

function s3SinkRules(expectedPrefix: string): Rules {
  return (key, value) => {
    if (key === 'type' || key === 'inputs') return done;
    if (key === 'bucket') return toEnv(SHIPPER_SPEC.recordingBucket.env, value);
    if (['region', 'endpoint', 'force_path_style'].includes(key) || key.startsWith('auth.')) return notNeeded(WHY.s3Receiver);
    if (key === 'key_prefix') {
      return value === expectedPrefix ? notNeeded('ferry writes under the same prefix, recordings/<WORKSPACE_ID>/') : untranslated(`ferry writes under recordings/<WORKSPACE_ID>/ (${expectedPrefix} here): readers of ${JSON.stringify(value)} must look there`);
    }
    if (key === 'encoding.codec') return value === 'text' ? notNeeded(WHY.s3Bytes) : untranslated(`${WHY.s3Bytes}, not as ${String(value)} events`);
    if (key === 'compression' || key.startsWith('framing.')) return notNeeded(WHY.s3Bytes);
    if (key.startsWith('filename_')) return notNeeded(WHY.s3Keys);
    if (key.startsWith('batch.')) return notNeeded(WHY.s3Batch);
    if (key.startsWith('buffer.')) return notNeeded(WHY.buffer);
    if (key.startsWith('request.')) return notNeeded('S3 calls are retried with the deliveries\' backoff, without end');
    if (key.startsWith('acknowledgements')) return notNeeded(WHY.acks);
    if (key.startsWith('healthcheck')) return notNeeded('ferry lists the bucket when it starts the recording pipeline, and retries until it answers');
    return untranslated('ferry sets nothing else on its objects (a bucket default can)');
  };
}

const GLOBAL_NOT_NEEDED: Record<string, string> = {
  data_dir: WHY.checkpoints,
  api: 'ferry-shipper serves /metrics, /healthz and /readyz on METRICS_PORT',
  acknowledgements: WHY.acks,
  healthchecks: WHY.healthcheck,
};

// --- the translation --------------------------------------------------------

/** The order variables are printed in: the shipper's own table, batch limits last. */
const ENV_ORDER = Object.values(SHIPPER_SPEC).map((s) => s.env);
const envRank = (name: string) => (ENV_ORDER.includes(name) ? ENV_ORDER.indexOf(name) : ENV_ORDER.length);

/** `<base>/ingest/<stream>` as base and stream. */
function receiverUri(uri: Template): { base: Template; stream: LineStream } | undefined {
  for (const stream of ['commands', 'events', 'llm'] as const) {
    for (const suffix of [`/ingest/${stream}`, `/ingest/${stream}/`]) {
      const base = withoutSuffix(uri, suffix);
      if (base && base.parts.length > 0) return { base, stream };
    }
  }
  return undefined;
}

/** Pipelines are named by their stream when it is theirs alone (so `COMMANDS_BATCH_*` means what ferry's defaults say), else by their source. */
function namePipelines(pipelines: Pipeline[]): void {
  const perStream = (stream: string) => pipelines.filter((p) => p.stream === stream).length;
  const taken = new Set<string>();
  for (const p of pipelines) {
    const base = perStream(p.stream) === 1 ? p.stream : p.route[0]!.toLowerCase().replace(/[^a-z0-9_]/g, '_').replace(/^[^a-z]+/, '') || p.stream;
    let name = base;
    for (let i = 2; taken.has(name); i++) name = `${base}_${i}`;
    taken.add(name);
    p.name = name;
  }
}

export function translate(config: Table): Translation {
  const env = new Map<string, EnvEntry>();
  const out: Translation = { env: [], pipelines: [], notNeeded: [], untranslated: [] };
  const miss = (setting: string, reason: string, value?: unknown) => void out.untranslated.push({ setting, value, reason });

  /** Why the variable cannot take this value: not valid for ferry, or another setting gave it another. */
  function conflict(name: string, value: Template, spec?: Setting<unknown>): string | undefined {
    const plain = literalText(value);
    if (spec && plain !== undefined && spec.parse(plain) === undefined) return `${name} must be ${spec.expected}`;
    const had = env.get(name);
    if (had?.value && vectorText(had.value) !== vectorText(value)) return `ferry has one ${name}: ${vectorText(value)} here, ${vectorText(had.value)} from ${had.from[0]}`;
    return undefined;
  }

  /** Sets one env entry, or reports why it cannot. */
  function set(name: string, value: Template, from: string[], spec?: Setting<unknown>, raw: unknown = vectorText(value)): void {
    const why = conflict(name, value, spec);
    if (why) return miss(from[0]!, why, raw);
    const had = env.get(name);
    if (had) had.from.push(...from.filter((f) => !had.from.includes(f)));
    else env.set(name, { name, value, from });
  }

  function apply(c: Component, rules: Rules): void {
    for (const [key, value] of flatten(c.settings)) {
      const outcome = rules(key, value);
      for (const o of Array.isArray(outcome) ? outcome : [outcome]) {
        if (o.to === 'env') set(o.name, o.value, [path(c, key)], o.spec, o.raw);
        else if (o.to === 'notNeeded') out.notNeeded.push({ setting: path(c, key), value, reason: o.reason });
        else if (o.to === 'untranslated') miss(path(c, key), o.reason, value);
      }
    }
  }

  for (const [key, value] of Object.entries(config)) {
    if (key === 'sources' || key === 'transforms' || key === 'sinks') {
      if (!isTable(value)) miss(key, 'expected a table of components', value);
      continue;
    }
    const reason = GLOBAL_NOT_NEEDED[key];
    if (reason) out.notNeeded.push({ setting: key, value, reason });
    else miss(key, 'ferry-shipper has no such global setting', value);
  }

  const all = [...components(config, 'sources'), ...components(config, 'transforms'), ...components(config, 'sinks')];
  const byId = new Map(all.map((c) => [c.id, c]));
  const used = new Set<string>();
  const reported = new Set<string>();

  // Transforms: a remap that only adds workspace_id is WORKSPACE_ID; anything else stops its routes.
  const translatable = new Set<string>();
  for (const t of all.filter((c) => c.kind === 'transforms')) {
    if (t.type !== 'remap') { miss(`transforms.${t.id}`, `ferry has no ${JSON.stringify(t.type)} transform: it ships each line as written`); reported.add(t.id); continue; }
    const r = typeof t.settings.source === 'string' ? remapWorkspaceId(t.settings.source) : { problem: 'no `source` program to translate' };
    if ('problem' in r) { miss(path(t, 'source'), r.problem, t.settings.source); reported.add(t.id); continue; }
    translatable.add(t.id);
    if (r.value) set('WORKSPACE_ID', r.value, [path(t, 'source')]);
  }
  /** The routes to a sink that ferry can translate; the sources of the others are explained by their transform. */
  const routes = (sink: Component) => routesTo(sink, byId).filter((route) => {
    const ok = route.slice(1).every((t) => translatable.has(t.id));
    if (!ok) reported.add(route[0]!.id);
    return ok;
  });

  /** The file a source tails, when ferry can tail it (it sets RUNTIME_DIR). */
  function sourceFile(s: Component): string | undefined {
    const include = s.settings.include;
    const where = path(s, 'include');
    const fail = (setting: string, reason: string, value?: unknown) => { if (!reported.has(s.id)) miss(setting, reason, value); reported.add(s.id); return undefined; };
    if (s.type !== 'file') return fail(`sources.${s.id}`, `ferry tails files; it has no ${JSON.stringify(s.type)} source`);
    if (!Array.isArray(include) || include.length !== 1 || typeof include[0] !== 'string') return fail(where, 'ferry tails one named file per pipeline: give one path', include);
    const file = include[0];
    if (/[*?[\]{}]/.test(file)) return fail(where, 'ferry tails named files, not globs: one pipeline per file (PIPELINES)', include);
    if (!posix.isAbsolute(file)) return fail(where, 'an absolute path is needed to know RUNTIME_DIR', include);
    const dir = posix.dirname(file);
    if (out.runtimeDir !== undefined && out.runtimeDir !== dir) return fail(where, `ferry reads every file from one folder, RUNTIME_DIR: ${dir} here, ${out.runtimeDir} before`, include);
    out.runtimeDir = dir;
    set(SHIPPER_SPEC.runtimeDir.env, literal(dir), [where]);
    return posix.basename(file);
  }

  // Sinks, first what they carry: pipelines need their final names before their settings are read.
  const work: Array<() => void> = [];
  for (const sink of all.filter((c) => c.kind === 'sinks')) {
    if (sink.type === 'http') {
      const uri = text(sink.settings.uri);
      const target = 'problem' in uri ? undefined : receiverUri(uri);
      if (!target) { miss(path(sink, 'uri'), 'problem' in uri ? uri.problem : 'ferry posts to <DASHBOARD_SERVICE_URL>/ingest/commands, /events or /llm: this URI names none of them', sink.settings.uri); continue; }
      const urlConflict = conflict(SHIPPER_SPEC.receiverUrl.env, target.base, SHIPPER_SPEC.receiverUrl);
      if (urlConflict) { miss(path(sink, 'uri'), urlConflict, sink.settings.uri); continue; }
      const mine: Pipeline[] = [];
      for (const route of routes(sink)) {
        for (const t of route.slice(1)) used.add(t.id);
        const file = sourceFile(route[0]!);
        if (file === undefined) continue;
        used.add(route[0]!.id);
        mine.push({ name: '', file, stream: target.stream, route: [...route.map((c) => c.id), sink.id] });
      }
      if (mine.length === 0) { miss(`sinks.${sink.id}`, 'nothing reaches it that ferry can ship: a file source, through transforms that only add workspace_id'); continue; }
      out.pipelines.push(...mine);
      set(SHIPPER_SPEC.receiverUrl.env, target.base, [path(sink, 'uri')]);
      work.push(() => apply(sink, httpSinkRules(mine)));
    } else if (sink.type === 'aws_s3') {
      const [route, ...more] = routesTo(sink, byId);
      if (!route || more.length > 0 || route.length !== 1) { miss(`sinks.${sink.id}`, 'ferry uploads one file, unchanged, as the recording: one file source and no transform feed it'); continue; }
      const file = sourceFile(route[0]!);
      if (file === undefined) continue;
      used.add(route[0]!.id);
      work.push(() => {
        set(SHIPPER_SPEC.recordingFile.env, literal(file), [path(route[0]!, 'include')], SHIPPER_SPEC.recordingFile);
        const workspaceId = env.get('WORKSPACE_ID')?.value ?? { parts: [{ variable: 'WORKSPACE_ID' }] };
        apply(sink, s3SinkRules(vectorText({ parts: [{ text: 'recordings/' }, ...workspaceId.parts, { text: '/' }] })));
      });
    } else if (sink.type === 'prometheus_exporter' && routesTo(sink, byId).every((r) => r.length === 1 && r[0]!.type === 'internal_metrics')) {
      for (const [source] of routesTo(sink, byId)) { used.add(source!.id); out.notNeeded.push({ setting: `sources.${source!.id}`, reason: WHY.metrics }); }
      out.notNeeded.push({ setting: `sinks.${sink.id}`, reason: WHY.metrics });
    } else {
      miss(`sinks.${sink.id}`, `ferry has no ${JSON.stringify(sink.type)} sink: it sends lines to ferry-receiver and the recording to S3`);
    }
  }
  namePipelines(out.pipelines);
  for (const w of work) w();
  if (out.pipelines.length > 0) set(SHIPPER_SPEC.pipelines.env, literal(out.pipelines.map((p) => `${p.name}:${p.file}:${p.stream}`).join(',')), out.pipelines.map((p) => `sources.${p.route[0]}.include`), SHIPPER_SPEC.pipelines);

  for (const c of all.filter((x) => x.kind !== 'sinks')) {
    if (used.has(c.id)) { if (c.type === 'file') apply(c, fileSourceRules); else if (c.type === 'remap') apply(c, remapRules); }
    else if (!reported.has(c.id)) miss(`${c.kind}.${c.id}`, 'no sink that ferry has reads it');
  }

  if (out.pipelines.length === 0 && !env.has(SHIPPER_SPEC.recordingBucket.env) && out.untranslated.length === 0) miss('sinks', 'no file reaches a sink that ferry has: there is nothing to ship');

  // Required by ferry and not in a Vector config: where the value comes from.
  if (!env.has('WORKSPACE_ID')) env.set('WORKSPACE_ID', { name: 'WORKSPACE_ID', fieldRef: 'metadata.name', from: [], why: 'not in the Vector config: the pod\'s name, as in the platform\'s pod spec' });
  if (!env.has('INGEST_TOKEN')) env.set('INGEST_TOKEN_FILE', { name: 'INGEST_TOKEN_FILE', value: literal(`${CREDENTIALS_DIR}/INGEST_TOKEN`), from: [], why: 'new: ferry-receiver takes a bearer token, the shared one or the workspace\'s own; read from the ferry-credentials volume, again when the Secret changes' });
  out.env = [...env.values()].sort((a, b) => envRank(a.name) - envRank(b.name));
  return out;
}
