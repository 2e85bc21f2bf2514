// Exponential backoff with jitter, capped, without end: the one retry policy
// of the shipper (deliveries, offset queries, object storage). Only the abort
// signal (the drain deadline) ends it.

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
