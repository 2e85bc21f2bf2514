// Exponential backoff with jitter, capped, without end: the one retry policy
// of the shipper (deliveries, offset queries, object storage, a file that
// cannot be read). Only the abort signal (the drain deadline) ends it.

import pRetry, { type RetryContext } from 'p-retry';

export const BACKOFF = {
  firstMs: 100,
  factor: 2,
} as const;

export interface BackoffOptions {
  signal: AbortSignal;
  maxDelayMs: number;
  /** Called after each failure, before the wait; may wait itself (see shouldConsumeRetry). */
  onFailedAttempt?: (context: RetryContext) => Promise<void> | void;
  /** False: the next attempt follows at once, without the exponential wait (the caller waited already). */
  shouldConsumeRetry?: (context: RetryContext) => boolean;
}

/** The attempt's result, or `aborted` when the signal ended the retries first. */
export async function retryWithBackoff<T>(attempt: () => Promise<T>, o: BackoffOptions): Promise<T | 'aborted'> {
  try {
    return await pRetry(attempt, {
      retries: Infinity,
      factor: BACKOFF.factor,
      minTimeout: BACKOFF.firstMs,
      maxTimeout: o.maxDelayMs,
      randomize: true,
      signal: o.signal,
      onFailedAttempt: o.onFailedAttempt,
      shouldConsumeRetry: o.shouldConsumeRetry,
    });
  } catch (err) {
    if (o.signal.aborted) return 'aborted';
    throw err;
  }
}

/** The wait before attempt `failures + 1` of a loop that retries by itself: the same curve as retryWithBackoff's. */
export function backoffDelayMs(failures: number, maxDelayMs: number): number {
  return Math.min(maxDelayMs, Math.round((1 + Math.random()) * BACKOFF.firstMs * BACKOFF.factor ** Math.max(0, failures - 1)));
}

/** Resolves after `ms`, or at once when the signal aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
