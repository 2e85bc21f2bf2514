// COPY text format: columns separated by tab, rows by newline, NULL as \N.
// Inside a value only backslash, newline, carriage return and tab need escaping;
// every other character, multibyte UTF-8 included, is taken literally. U+0000
// cannot be stored in PostgreSQL text at all, so callers reject it first.

const SPECIAL = /[\\\n\r\t]/;
const SPECIAL_ALL = /[\\\n\r\t]/g;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

export const COPY_NULL = '\\N';

export function copyText(value: string): string {
  return SPECIAL.test(value) ? value.replace(SPECIAL_ALL, (c) => ESCAPES[c]!) : value;
}

export function copyNullableText(value: string | null): string {
  return value === null ? COPY_NULL : copyText(value);
}

/** One COPY row, newline-terminated, from already-encoded fields. */
export function copyRow(fields: readonly string[]): string {
  return fields.join('\t') + '\n';
}
