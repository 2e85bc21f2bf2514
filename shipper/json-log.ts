// The shipper's JSON logs, in pino's line format (numeric level, ISO time,
// program, the fields, msg) so one log pipeline reads both programs. Not pino
// itself: with pino (its transports' worker threads, sonic-boom, the
// redaction compiler) an idle shipper was 6.2 MiB larger on Node 24, the
// image's runtime (68.4 against 62.2 MiB resident, 0.4 MiB on Node 20),
// paid in every workspace pod; the shipper only ever logs flat fields and a
// message.

import type { LogLevel } from '../shared/env.js';

const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity } as const;

/** What could hold a credential, at any depth: never written out. */
const REDACTED = new Set(['token', 'authorization', 'cookie']);

type Write = (fields: object | string, msg?: string) => void;

export interface Log {
  trace: Write;
  debug: Write;
  info: Write;
  warn: Write;
  error: Write;
  fatal: Write;
}

function censor(key: string, value: unknown): unknown {
  if (REDACTED.has(key.toLowerCase())) return '<redacted>';
  if (value instanceof Error) return { type: value.name, message: value.message, stack: value.stack };
  return value;
}

/** Writes to stdout, which Node writes synchronously on Linux (file, pipe or terminal): a line logged before process.exit is not lost. */
export function createLog(program: string, level: LogLevel, out: (line: string) => void = (line) => process.stdout.write(line)): Log {
  const threshold = LEVELS[level];
  const writer = (name: Exclude<keyof typeof LEVELS, 'silent'>): Write => {
    const n = LEVELS[name];
    if (n < threshold) return () => {};
    return (fields, msg) => {
      const [own, text] = typeof fields === 'string' ? [{}, fields] : [fields, msg];
      out(`${JSON.stringify({ level: n, time: new Date().toISOString(), program, ...own, msg: text }, censor)}\n`);
    };
  };
  return { trace: writer('trace'), debug: writer('debug'), info: writer('info'), warn: writer('warn'), error: writer('error'), fatal: writer('fatal') };
}
