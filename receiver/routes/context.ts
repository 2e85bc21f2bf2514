import type pg from 'pg';
import type { Auth } from '../auth.js';
import type { ReceiverConfig } from '../config.js';
import type { ReceiverEvents } from '../events.js';
import type { DatabaseProbe } from '../db/probe.js';
import type { IngestQueue } from '../ingest/ingest-queue.js';
import type { TimeWindow } from '../ingest/time-window.js';
import type { StreamHub } from '../stream/hub.js';

/** Live state the routes read: is the schema there, is the stream running, is the process stopping. */
export interface ReceiverState {
  migrated: boolean;
  /** The live stream follows the events table (it starts once migrated). */
  streaming: boolean;
  shuttingDown: boolean;
}

/** What every route module is built from. */
export interface RouteContext {
  config: Pick<ReceiverConfig, 'maxBodyBytes' | 'maxLineBytes' | 'maxRequestLines' | 'rejectRawBytes' | 'recordingBucket' | 'databaseTimeoutMs'>;
  pool: pg.Pool;
  auth: Auth;
  events: ReceiverEvents;
  state: ReceiverState;
  hub: StreamHub;
  ingest: IngestQueue;
  /** This replica's own view of whether PostgreSQL answers. */
  database: DatabaseProbe;
  window: TimeWindow;
}
