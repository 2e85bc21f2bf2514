import pg from 'pg';
import type { Logger } from '../log.js';

/**
 * Errors that mean "PostgreSQL is not there right now" rather than "this request
 * is wrong": the request is answered 503 with Retry-After and the pool recovers
 * by itself once the server is back.
 */
const UNAVAILABLE_SQLSTATES = new Set([
  '08000', '08001', '08003', '08004', '08006', '08P01', // connection exceptions
  '57P01', '57P02', '57P03', // admin shutdown, crash shutdown, cannot connect now
  '53300', // too many connections
  '40001', '40P01', // serialization failure, deadlock: retrying is the answer too
]);
const UNAVAILABLE_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
const UNAVAILABLE_MESSAGES = [/Connection terminated/i, /timeout exceeded when trying to connect/i, /Client has encountered a connection error/i, /server closed the connection/i, /the database system is (starting up|shutting down|in recovery mode)/i];

export function isDatabaseUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (UNAVAILABLE_SQLSTATES.has(code) || UNAVAILABLE_ERRNOS.has(code))) return true;
  if (err instanceof AggregateError) return err.errors.some(isDatabaseUnavailable);
  return UNAVAILABLE_MESSAGES.some((re) => re.test(err.message));
}

export function createPool(databaseUrl: string, max: number, log: Logger): pg.Pool {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    application_name: 'ferry-receiver',
  });
  // A connection that dies while idle, or while checked out between queries,
  // emits 'error'; unhandled, that would end the process.
  pool.on('error', (err) => log.warn({ err: err.message }, 'idle PostgreSQL connection lost'));
  pool.on('connect', (client) => client.on('error', (err) => log.warn({ err: err.message }, 'PostgreSQL connection lost')));
  return pool;
}
