// The shipper's logs are JSON lines in pino's format, so the receiver's and the
// shipper's logs go through one pipeline, and nothing that could be a
// credential is ever written.

import { describe, expect, it } from 'vitest';
import { createLog } from '../../shipper/json-log.js';
import type { LogLevel } from '../../shared/env.js';

function logged(level: LogLevel, write: (log: ReturnType<typeof createLog>) => void): Array<Record<string, unknown>> {
  const lines: string[] = [];
  write(createLog('ferry-shipper', level, (line) => lines.push(line)));
  for (const line of lines) expect(line.endsWith('\n') && !line.slice(0, -1).includes('\n')).toBe(true);
  return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('the shipper\'s logs', () => {
  it('are pino\'s lines: numeric level, ISO time, program, the fields, msg', () => {
    const [line] = logged('info', (log) => log.warn({ pipeline: 'commands', bytes: 12 }, 'a last line without its newline was left unshipped'));
    expect(line).toEqual({ level: 40, time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/), program: 'ferry-shipper', pipeline: 'commands', bytes: 12, msg: 'a last line without its newline was left unshipped' });
  });

  it('take a message alone', () => {
    expect(logged('info', (log) => log.info('drained: everything shipped'))).toEqual([expect.objectContaining({ level: 30, msg: 'drained: everything shipped' })]);
  });

  it('leave out what is below LOG_LEVEL, and everything when silent', () => {
    const all = (log: ReturnType<typeof createLog>) => {
      log.trace('t'); log.debug('d'); log.info('i'); log.warn('w'); log.error('e'); log.fatal('f');
    };
    expect(logged('warn', all).map((l) => l.msg)).toEqual(['w', 'e', 'f']);
    expect(logged('trace', all).map((l) => l.level)).toEqual([10, 20, 30, 40, 50, 60]);
    expect(logged('silent', all)).toEqual([]);
  });

  it('never write a token, an authorization or a cookie, at any depth', () => {
    const [line] = logged('info', (log) => log.error({ token: 'secret-1', request: { headers: { Authorization: 'Bearer secret-2', cookie: 'ferry_read=secret-3' } } }, 'refused'));
    expect(JSON.stringify(line)).not.toMatch(/secret/);
    expect(line!.token).toBe('<redacted>');
  });

  it('write an error as its type, message and stack', () => {
    const [line] = logged('info', (log) => log.error({ err: new RangeError('out of range') }, 'failed'));
    expect(line!.err).toEqual({ type: 'RangeError', message: 'out of range', stack: expect.stringContaining('RangeError: out of range') });
  });
});
