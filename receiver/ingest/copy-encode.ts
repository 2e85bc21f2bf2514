// COPY text format: columns separated by tab, rows by newline, NULL as \N.
// Inside a value only backslash, newline, carriage return and tab need escaping;
// every other character, multibyte UTF-8 included, is taken literally. U+0000
// cannot be stored in PostgreSQL text at all, so callers reject it first.

export const COPY_NULL = '\\N';

/**
 * Native searches, one per character, rather than one regular expression: on
 * a tutor call's 27 KB prompt the expression took 22 µs, the searches 3.
 */
export function copyText(value: string): string {
  const backslash = value.includes('\\');
  const newline = value.includes('\n');
  const cr = value.includes('\r');
  const tab = value.includes('\t');
  if (!backslash && !newline && !cr && !tab) return value;
  // Backslashes first: the other escapes add some.
  let out = backslash ? value.replaceAll('\\', '\\\\') : value;
  if (newline) out = out.replaceAll('\n', '\\n');
  if (cr) out = out.replaceAll('\r', '\\r');
  if (tab) out = out.replaceAll('\t', '\\t');
  return out;
}

/**
 * JSON.stringify's output as COPY text: it writes newline, carriage return
 * and tab as escapes, so only its backslashes need doubling, one search
 * instead of four (a tutor call's prompt is tens of KB).
 */
export function copyJson(value: unknown): string {
  const json = JSON.stringify(value);
  return json.includes('\\') ? json.replaceAll('\\', '\\\\') : json;
}

export function copyNullableText(value: string | null): string {
  return value === null ? COPY_NULL : copyText(value);
}

/** One COPY row, newline-terminated, from already-encoded fields. */
export function copyRow(fields: readonly string[]): string {
  return fields.join('\t') + '\n';
}

/** COPY rows, back to back in one buffer, each written as soon as its line is judged. */
export interface RowBytes {
  /** Appends a row; returns where its bytes end. */
  add(row: string): number;
  /** The rows written, in order. */
  bytes(): Buffer;
}

/**
 * Rows written into one buffer as they are made, so that a row's string is
 * garbage at once: kept until the commit, a row string (and the pieces it was
 * concatenated from) cost several times its bytes in V8's heap, and moving it
 * to the old generation was a fifth of ingest's CPU. `estimate` is the bytes
 * expected; past it the buffer doubles.
 */
export function createRowBytes(estimate: number): RowBytes {
  let buffer = Buffer.allocUnsafe(Math.max(estimate, 256));
  let used = 0;
  return {
    add(row) {
      // UTF-8 takes at most 3 bytes per UTF-16 unit; the exact count only near the end.
      if (used + row.length * 3 > buffer.length && used + Buffer.byteLength(row) > buffer.length) {
        const bigger = Buffer.allocUnsafe(Math.max(buffer.length * 2, used + Buffer.byteLength(row)));
        buffer.copy(bigger, 0, 0, used);
        buffer = bigger;
      }
      used += buffer.write(row, used);
      return used;
    },
    bytes: () => buffer.subarray(0, used),
  };
}

const COPY_CHUNK_BYTES = 1 << 16;

/**
 * Rows as UTF-8 chunks of about 64 KiB for a COPY stream (the benchmarks'
 * own loaders). Each row is written into a fresh allocation: Buffer.from of
 * a long concatenated string cost ten times as much, most of it flattening
 * the string.
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
