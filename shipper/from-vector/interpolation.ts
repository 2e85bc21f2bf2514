// Vector expands environment variables in its config text (`${NAME}`,
// `$NAME`, `${NAME:?message}`, `$$` for a dollar sign). ferry reads its
// variables itself, so a translated value keeps the reference, and Kubernetes
// fills it in: `$(NAME)` in an env entry's value is the entry NAME defined
// above it in the same container.

export type Part = { text: string } | { variable: string };

/** A setting's value, as text and variable references. */
export interface Template {
  parts: Part[];
}

const REFERENCE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;

/** The value's parts, or why Kubernetes cannot express it. */
export function parseTemplate(value: string): Template | { problem: string } {
  const parts: Part[] = [];
  let at = 0;
  const text = (t: string) => {
    if (t === '') return;
    const last = parts.at(-1);
    if (last && 'text' in last) last.text += t;
    else parts.push({ text: t });
  };
  for (const m of value.matchAll(REFERENCE)) {
    text(value.slice(at, m.index));
    at = m.index + m[0].length;
    if (m[0] === '$$') text('$');
    else if (m[2]?.endsWith('-')) return { problem: `${m[0]}: a default value has no counterpart in a Kubernetes env entry` };
    else parts.push({ variable: m[1] ?? m[4]! });
  }
  text(value.slice(at));
  return { parts };
}

export function literal(text: string): Template {
  return { parts: text === '' ? [] : [{ text }] };
}

/** The literal text when the template references no variable. */
export function literalText(t: Template): string | undefined {
  return t.parts.every((p) => 'text' in p) ? t.parts.map((p) => (p as { text: string }).text).join('') : undefined;
}

/** The variable when the template is exactly one reference. */
export function soleVariable(t: Template): string | undefined {
  const [only, ...rest] = t.parts;
  return only && rest.length === 0 && 'variable' in only ? only.variable : undefined;
}

export function variablesOf(t: Template): string[] {
  return t.parts.flatMap((p) => ('variable' in p ? [p.variable] : []));
}

/** As Vector wrote it: for messages and comparisons. */
export function vectorText(t: Template): string {
  return t.parts.map((p) => ('text' in p ? p.text.replaceAll('$', '$$$$') : `\${${p.variable}}`)).join('');
}

/** As a Kubernetes env value: `$(NAME)` references, a literal `$(` escaped as `$$(`. */
export function kubernetesText(t: Template): string {
  return t.parts.map((p) => ('text' in p ? p.text.replaceAll('$(', '$$$$(') : `$(${p.variable})`)).join('');
}

/** The template without a literal suffix, or undefined when it does not end with it. */
export function withoutSuffix(t: Template, suffix: string): Template | undefined {
  const last = t.parts.at(-1);
  if (!last || !('text' in last) || !last.text.endsWith(suffix)) return undefined;
  const rest = last.text.slice(0, last.text.length - suffix.length);
  return { parts: [...t.parts.slice(0, -1), ...(rest === '' ? [] : [{ text: rest }])] };
}
