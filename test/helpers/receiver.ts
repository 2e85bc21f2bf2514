// Starts the real receiver in this process, on loopback, against a real database.

import { atEnd } from './cleanup.js';
import { loadConfig } from '../../shared/env.js';
import { createLogger } from '../../receiver/log.js';
import { RECEIVER_SPEC, type ReceiverConfig } from '../../receiver/config.js';
import { startReceiver, type RunningReceiver } from '../../receiver/receiver.js';

export const INGEST_TOKEN = 'test-ingest-token';
export const TOKEN_SECRET = 'test-token-secret';
export const READ_TOKEN = 'test-read-token-0';

export const KEEP_FOREVER = { commandLogRetentionDays: 0, stateTimelineRetentionDays: 0, llmInteractionsRetentionDays: 0, ingestRejectsRetentionDays: 0 } satisfies Partial<ReceiverConfig>;
/** The same for a receiver process. */
export const KEEP_FOREVER_ENV = { COMMAND_LOG_RETENTION_DAYS: '0', STATE_TIMELINE_RETENTION_DAYS: '0', LLM_INTERACTIONS_RETENTION_DAYS: '0', INGEST_REJECTS_RETENTION_DAYS: '0' };

export function receiverConfig(databaseUrl: string, overrides: Partial<ReceiverConfig> = {}): ReceiverConfig {
  return {
    ...loadConfig(RECEIVER_SPEC, { DATABASE_URL: databaseUrl, INGEST_TOKEN, INGEST_TOKEN_SECRET: TOKEN_SECRET, READ_TOKEN }),
    host: '127.0.0.1',
    port: 0,
    logLevel: (process.env.FERRY_TEST_LOG as ReceiverConfig['logLevel']) ?? 'silent',
    // The tests' lines carry fixed dates, which a retention would make too old as the calendar moves on.
    ...KEEP_FOREVER,
    // Specs push one workspace as fast as they can; the per-workspace limit has its own (workspace-rate.test.ts).
    workspaceRateBytes: 0,
    ...overrides,
  };
}

/** Started and migrated; stopped when the file's tests end (unless stopped before). */
export async function startTestReceiver(databaseUrl: string, overrides: Partial<ReceiverConfig> = {}): Promise<RunningReceiver> {
  const config = receiverConfig(databaseUrl, overrides);
  const receiver = await startReceiver(config, createLogger('ferry-receiver', config.logLevel));
  let stopped = false;
  const stop = receiver.stop;
  receiver.stop = async () => {
    if (stopped) return;
    stopped = true;
    await stop();
  };
  atEnd(() => receiver.stop());
  await receiver.ready;
  return receiver;
}
