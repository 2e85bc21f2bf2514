// Retry is a wrapper around the transport: exponential backoff with jitter
// (ship/backoff.ts); Retry-After beats the computed wait; a configuration
// fault (a 4xx, a 2xx that is not the receiver's answer, or the receiver's
// certificate refused) is retried slowly, never dropped.

import { retryWithBackoff, sleep } from './backoff.js';
import type { Delivery, HttpTransport, Outgoing } from './http-transport.js';

/** Longest Retry-After honoured, so a confused server cannot park the shipper for hours. */
export const RETRY_AFTER_CAP_MS = 5 * 60_000;

export type Final = Extract<Delivery, { status: 'delivered' | 'gap' }> | { status: 'aborted' };
type Failure = Exclude<Delivery, { status: 'delivered' | 'gap' }>;

export interface FailedAttempt {
  attempt: number;
  delivery: Failure;
  /** How long until the next attempt, when known up front (Retry-After, a configuration fault). */
  waitMs?: number;
}

export interface RetryPolicy {
  maxDelayMs: number;
  refusedDelayMs: number;
  /** After a 401: reads the token again; true when it changed, and the request is sent again at once. */
  onUnauthorized?: () => Promise<boolean>;
}

class Failed extends Error {
  constructor(readonly delivery: Failure) {
    super(delivery.reason);
  }
}

export interface RetryingTransport {
  deliver(out: Outgoing, signal: AbortSignal, onFailed: (f: FailedAttempt) => void): Promise<Final>;
}

export function createRetryingTransport(transport: HttpTransport, policy: RetryPolicy): RetryingTransport {
  return {
    async deliver(out, signal, onFailed) {
      const result = await retryWithBackoff(async () => {
        const d = await transport.send(out, signal);
        if (d.status !== 'delivered' && d.status !== 'gap') throw new Failed(d);
        return d;
      }, {
        signal,
        maxDelayMs: policy.maxDelayMs,
        // Waits that are not exponential backoff happen here; such an attempt
        // then does not count towards the backoff.
        onFailedAttempt: async ({ error, attemptNumber }) => {
          if (!(error instanceof Failed)) throw error;
          const d = error.delivery;
          // A rotated token file: the new token is tried without the slow wait of a configuration fault.
          const rotated = d.status === 'refused' && d.statusCode === 401 && (await policy.onUnauthorized?.()) === true;
          const waitMs = rotated ? 0 : d.status !== 'retryable' ? policy.refusedDelayMs : d.retryInMs === undefined ? undefined : Math.min(d.retryInMs, RETRY_AFTER_CAP_MS);
          onFailed({ attempt: attemptNumber, delivery: d, waitMs });
          if (waitMs !== undefined) await sleep(waitMs, signal);
        },
        shouldConsumeRetry: ({ error }) => error instanceof Failed && error.delivery.status === 'retryable' && error.delivery.retryInMs === undefined,
      });
      return result === 'aborted' ? { status: 'aborted' } : result;
    },
  };
}
