// The translation as `ferry-shipper from-vector` prints it: a pod-spec
// fragment in YAML (pod-spec.ts: the ferry-shipper container with its env,
// its volume and the pod settings it needs), then what was not needed and
// what was not translated, as YAML comments, so
// that the whole output can be pasted or parsed.

import type { Setting } from '../../shared/env.js';
import { batchSettings, SHIPPER_SPEC } from '../config.js';
import { kubernetesText, literalText, soleVariable, variablesOf } from './interpolation.js';
import { podSpec } from './pod-spec.js';
import type { EnvEntry, Finding, Pipeline, Translation } from './translate.js';

const WIDTH = 100;

/** Words of `text` in lines of at most WIDTH characters: the first starts with `prefix`, the others with `rest`. */
function wrap(prefix: string, text: string, rest = prefix): string[] {
  const lines: string[] = [];
  let line = prefix;
  for (const word of text.split(' ')) {
    if (line.length + word.length + 1 > WIDTH && line.trim() !== '#') { lines.push(line); line = rest; }
    line += line.endsWith(' ') ? word : ` ${word}`;
  }
  return [...lines, line];
}

function settingFor(name: string, pipelines: Pipeline[]): Setting<unknown> | undefined {
  return Object.values<Setting<unknown>>(SHIPPER_SPEC).find((s) => s.env === name)
    ?? pipelines.flatMap((p) => Object.values(batchSettings(p))).find((s) => s.env === name);
}

function entryLines(e: EnvEntry, pipelines: Pipeline[]): string[] {
  const pad = '        ';
  const comment: string[] = e.why ? [e.why] : [`from ${e.from.join(', ')}`];
  const fallback = settingFor(e.name, pipelines)?.fallback;
  const plain = e.value && literalText(e.value);
  const same = plain === fallback?.shown || plain === String(fallback?.value);
  // (A long default, PIPELINES', would only be noise.)
  if (fallback && plain !== undefined && (same || fallback.shown.length <= 20)) comment.push(same ? 'ferry\'s default' : `ferry's default: ${fallback.shown}`);
  const lines = [...wrap(`${pad}# `, comment.join('; ')), `${pad}- name: ${e.name}`];
  if (e.value) lines.push(`${pad}  value: ${JSON.stringify(kubernetesText(e.value))}`);
  if (e.fieldRef) lines.push(`${pad}  valueFrom:`, `${pad}    fieldRef:`, `${pad}      fieldPath: ${e.fieldRef}`);
  if (e.secret) {
    lines.push(`${pad}  valueFrom:`, `${pad}    secretKeyRef:`, `${pad}      name: ${e.secret.name}`, `${pad}      key: ${e.secret.key}`, `${pad}      optional: true`);
  }
  return lines;
}

/** Settings with the same reason together, the reason once. */
function findings(title: string, list: Finding[]): string[] {
  if (list.length === 0) return [`# ${title}: none.`];
  const byReason = new Map<string, Finding[]>();
  for (const f of list) byReason.set(f.reason, [...(byReason.get(f.reason) ?? []), f]);
  const lines = [`# ${title}:`];
  for (const [reason, fs] of byReason) {
    for (const f of fs) lines.push(`#   ${f.setting}${f.value === undefined ? '' : ` = ${JSON.stringify(f.value)}`}`);
    lines.push(...wrap('#       ', reason));
  }
  return lines;
}

const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

export function report(file: string, t: Translation): string {
  const translated = new Set(t.env.flatMap((e) => e.from)).size;
  // An entry whose value is exactly its own name's ${...} is the vector container's entry, kept; others may reference more.
  const kept = t.env.filter((e) => e.value && soleVariable(e.value) === e.name);
  const printed = t.env.filter((e) => !kept.includes(e));
  const referenced = [...new Set(printed.flatMap((e) => (e.value ? variablesOf(e.value) : [])))].filter((v) => !kept.some((k) => k.name === v));
  const env: string[] = [];
  if (kept.length + referenced.length > 0) {
    env.push(...wrap('        # ', 'Carry these entries of the vector container\'s env over as they are, first (the Vector config reads them as ${NAME}):'));
    for (const e of kept) env.push(...wrap(`        #   ${e.name.padEnd(22)} `, `from ${e.from.join(', ')}${e.name === SHIPPER_SPEC.receiverUrl.env ? ' (it must now reach ferry-receiver)' : ''}`, `        #   ${''.padEnd(22)} `));
    for (const v of referenced) env.push(`        #   ${v.padEnd(22)} referenced as $(${v}) below`);
  }
  for (const e of printed) env.push(...entryLines(e, t.pipelines));

  const lines = [
    `# ferry-shipper from-vector ${file}`,
    `# ${count(translated, 'setting')} translated, ${t.notNeeded.length} not needed with ferry, ${t.untranslated.length} not translated.`,
    '#',
    ...wrap('# ', 'ferry-shipper goes into the workspace pod in place of the vector container (and its preStop hook) and the vector-config volume, as in k8s/workspace/classic/pod.yaml; merge the pod-level settings into the pod\'s own.'),
    ...podSpec(env, t.runtimeDir ?? SHIPPER_SPEC.runtimeDir.fallback!.value),
    '',
    t.pipelines.length === 0 ? '# Pipelines: none.' : '# Pipelines (PIPELINES):',
    ...t.pipelines.map((p) => `#   ${p.name.padEnd(10)} ${p.route.join(' → ')} (/ingest/${p.stream})`),
    '',
    ...findings('Not needed with ferry', t.notNeeded),
    '',
    ...findings('Not translated', t.untranslated),
  ];
  return `${lines.join('\n')}\n`;
}
