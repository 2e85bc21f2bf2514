import type { RejectReason } from '../errors.js';

// A parsed JSON value can hold things PostgreSQL cannot store faithfully:
// U+0000 (text and jsonb refuse it), lone UTF-16 surrogates (they cannot be
// encoded as UTF-8, so they would be silently replaced), numbers JSON.parse has
// already rounded (integers beyond 2^53, 1e400 as Infinity), and nesting deep
// enough to exhaust PostgreSQL's stack. Such a line is rejected, never altered.

export const MAX_JSON_DEPTH = 128;

export interface ValueProblem {
  reason: RejectReason;
  detail: string;
}

export function stringProblem(s: string, where: string): ValueProblem | undefined {
  if (s.includes('\0')) return { reason: 'nul_byte', detail: `${where} holds U+0000` };
  if (!s.isWellFormed()) return { reason: 'invalid_unicode', detail: `${where} holds a lone surrogate` };
  return undefined;
}

function numberProblem(n: number, where: string): ValueProblem | undefined {
  if (!Number.isFinite(n)) return { reason: 'out_of_range', detail: `${where} is too large for a double` };
  if (Number.isInteger(n) && !Number.isSafeInteger(n)) return { reason: 'out_of_range', detail: `${where} is an integer beyond 2^53 and would lose precision` };
  return undefined;
}

/** Walks a JSON value without recursion, so hostile nesting cannot overflow our stack either. */
export function jsonValueProblem(root: unknown, where: string): ValueProblem | undefined {
  // Most values are a string or a number: no stacks for them.
  if (typeof root === 'string') return stringProblem(root, where);
  if (typeof root === 'number') return numberProblem(root, where);
  if (typeof root !== 'object' || root === null) return undefined;
  // Two plain stacks, not one of pairs: a 2M-element array is 2M pushes.
  const values: unknown[] = [root];
  const depths: number[] = [1];
  while (values.length > 0) {
    const value = values.pop();
    const depth = depths.pop()!;
    if (typeof value === 'string') {
      const p = stringProblem(value, where);
      if (p) return p;
    } else if (typeof value === 'number') {
      const p = numberProblem(value, where);
      if (p) return p;
    } else if (value !== null && typeof value === 'object') {
      if (depth > MAX_JSON_DEPTH) return { reason: 'too_deep', detail: `${where} is nested deeper than ${MAX_JSON_DEPTH} levels` };
      if (Array.isArray(value)) {
        for (const item of value) {
          values.push(item);
          depths.push(depth + 1);
        }
      } else {
        for (const [key, item] of Object.entries(value)) {
          const p = stringProblem(key, `${where} key`);
          if (p) return p;
          values.push(item);
          depths.push(depth + 1);
        }
      }
    }
  }
  return undefined;
}
