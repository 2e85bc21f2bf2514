// frame: which complete lines at the start of a read buffer form the next
// batch. A batch is a byte range of the file (the body is those exact bytes),
// so framing only finds newlines; no line is copied.

export interface FrameLimits {
  maxEvents: number;
  maxBytes: number;
  /** Longest line accepted, newline not counted. */
  maxLineBytes: number;
}

export type Frame =
  /** `bytes` bytes holding `lines` complete lines. */
  | { kind: 'lines'; bytes: number; lines: number }
  /** The first line has no newline yet and is within the limit: wait for it. */
  | { kind: 'partial' }
  /** The first line is over the limit (with or without its newline so far). */
  | { kind: 'too_long' };

/** The read window a pipeline needs: a full batch, or one longest line plus its newline. */
export function readWindow(limits: FrameLimits): number {
  return Math.max(limits.maxBytes, limits.maxLineBytes + 1);
}

export function frameLines(buf: Buffer, length: number, limits: FrameLimits): Frame {
  const view = buf.subarray(0, length);
  const first = view.indexOf(0x0a);
  if (first === -1) return length > limits.maxLineBytes ? { kind: 'too_long' } : { kind: 'partial' };
  if (first > limits.maxLineBytes) return { kind: 'too_long' };
  let end = first + 1;
  let lines = 1;
  while (lines < limits.maxEvents && end < length) {
    const nl = view.indexOf(0x0a, end);
    if (nl === -1 || nl + 1 > limits.maxBytes || nl - end > limits.maxLineBytes) break;
    end = nl + 1;
    lines++;
  }
  return { kind: 'lines', bytes: end, lines };
}
