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

const COPY_CHUNK_BYTES = 1 << 16;

/**
 * Rows as UTF-8 chunks of about 64 KiB for the COPY stream. Each row is
 * written into a fresh allocation: Buffer.from of a long concatenated string
 * cost ten times as much, most of it flattening the string.
 */
export function* copyChunks(rows: Iterable<string>): Generator<Buffer> {
  let chunk = Buffer.allocUnsafe(COPY_CHUNK_BYTES);
  let used = 0;
  for (const row of rows) {
    const most = row.length * 3; // UTF-8 bytes per UTF-16 unit, at most
    if (used + most > chunk.length) {
      if (used > 0) yield chunk.subarray(0, used);
      chunk = Buffer.allocUnsafe(Math.max(COPY_CHUNK_BYTES, most));
      used = 0;
    }
    used += chunk.write(row, used);
  }
  if (used > 0) yield chunk.subarray(0, used);
}
