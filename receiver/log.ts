import { pino, type Logger } from 'pino';
import type { LogLevel } from '../shared/env.js';

export type { Logger };

/** JSON logs on stdout. Anything that could hold a credential is redacted by path. */
export function createLogger(program: string, level: LogLevel): Logger {
  return pino({
    level,
    base: { program },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: ['token', '*.token', 'authorization', '*.authorization', 'headers.authorization', '*.headers.authorization', 'headers.cookie', '*.headers.cookie'],
      censor: '<redacted>',
    },
  });
}
