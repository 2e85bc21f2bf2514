// Retry is a wrapper around the transport: exponential backoff with jitter,
// capped, without end; Retry-After beats the computed wait; a refused request
// (4xx: a configuration fault) is retried slowly, never dropped. Only the
// drain deadline (the abort signal) ends the retries.

import pRetry from 'p-retry';
import type { Delivery, HttpTransport, Outgoing } from './http-transport.js';

export const BACKOFF = {
  firstMs: 100,
  factor: 2,
  /** Longest Retry-After honoured, so a confused server cannot park the shipper for hours. */
  retryAfterCapMs: 5 * 60_000,
} as const;

export type Final = Extract<Delivery, { status: 'delivered' | 'gap' }> | { status: 'aborted' };

export interface FailedAttempt {
  attempt: number;
  delivery: Extract<Delivery, { status: 'retryable' | 'refused' }>;
  /** How long until the next attempt, when known up front (Retry-After, refused). */
  waitMs?: number;
}

export interface RetryPolicy {
  maxDelayMs: number;
  refusedDelayMs: number;
}

class Failed extends Error {
  constructor(readonly delivery: Extract<Delivery, { status: 'retryable' | 'refused' }>) {
    super(delivery.reason);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
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

export interface RetryingTransport {
  deliver(out: Outgoing, signal: AbortSignal, onFailed: (f: FailedAttempt) => void): Promise<Final>;
}

export function createRetryingTransport(transport: HttpTransport, policy: RetryPolicy): RetryingTransport {
  return {
    async deliver(out, signal, onFailed) {
      try {
        return await pRetry(async () => {
          const d = await transport.send(out, signal);
          if (d.status === 'retryable' || d.status === 'refused') throw new Failed(d);
          return d;
        }, {
          retries: Infinity,
          factor: BACKOFF.factor,
          minTimeout: BACKOFF.firstMs,
          maxTimeout: policy.maxDelayMs,
          randomize: true,
          signal,
          // Waits that are not exponential backoff happen here, and then the
          // attempt does not count towards the backoff (shouldConsumeRetry).
          onFailedAttempt: async ({ error, attemptNumber }) => {
            if (!(error instanceof Failed)) throw error;
            const d = error.delivery;
            const waitMs = d.status === 'refused' ? policy.refusedDelayMs : d.retryInMs === undefined ? undefined : Math.min(d.retryInMs, BACKOFF.retryAfterCapMs);
            onFailed({ attempt: attemptNumber, delivery: d, waitMs });
            if (waitMs !== undefined) await sleep(waitMs, signal);
          },
          shouldConsumeRetry: ({ error }) => error instanceof Failed && error.delivery.status === 'retryable' && error.delivery.retryInMs === undefined,
        });
      } catch (err) {
        if (signal.aborted) return { status: 'aborted' };
        throw err;
      }
    },
  };
}
