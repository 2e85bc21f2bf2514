// What the shipper reports about itself. The data path calls these; metrics and
// logs live behind them (shipper/observe.ts), so tests can record them.

import type { CredentialEvents } from '../shared/credential.js';
import type { DrainReport } from '../shared/wire.js';
import type { FailedAttempt } from './ship/retrying-transport.js';

export type PositionSource = 'checkpoint' | 'receiver' | 'new_generation';

/** The recording's S3 calls: finding segments and final objects, the two uploads, and the housekeeping of multipart uploads. */
export type RecordingStage = 'list' | 'segment' | 'final' | 'list_uploads' | 'abort';

export interface ShipperEvents extends CredentialEvents {
  onStarted(pipelines: string[]): void;
  onFileOpened(pipeline: string, path: string): void;
  onResumed(pipeline: string, generation: string, offset: number, source: PositionSource): void;
  onNewGeneration(pipeline: string, generation: string, reason: 'truncated' | 'replaced' | 'rewritten'): void;
  onBatchDelivered(pipeline: string, lines: number, bytes: number, seconds: number, answer: Record<string, unknown>): void;
  onOffsetGap(pipeline: string, from: number, to: number): void;
  onAttemptFailed(pipeline: string, failure: FailedAttempt): void;
  onLineTooLong(pipeline: string, offset: number, length: number): void;
  /** Bytes of the file not yet committed, and since when (epoch ms) there has been any. */
  onLag(pipeline: string, bytes: number, unshippedSinceMs: number | undefined): void;
  onPartialLineLeft(pipeline: string, bytes: number): void;
  /** A file could not be opened or read (`code`: see tail/file-errors.ts); the pipeline tries again later. */
  onFileError(pipeline: string, path: string, code: string, err: unknown): void;
  /** The file that failed can be read again. */
  onFileRecovered(pipeline: string, path: string): void;
  onCheckpointWritten(ms: number): void;
  onCheckpointError(err: unknown): void;
  onCheckpointLoaded(status: string, detail?: string): void;
  onWatchError(err: unknown): void;
  /** A poll found the file changed without a filesystem notification: it is polled every POLL_INTERVAL_MS from now on. */
  onChangeUnannounced(file: string): void;
  onDrainStarted(signal: string, deadlineMs: number): void;
  onRecordingGeneration(generation: string, synced: number, reason: 'resumed' | 'truncated' | 'rewritten' | 'replaced'): void;
  onRecordingSegment(key: string, bytes: number, seconds: number): void;
  onRecordingFinal(key: string, bytes: number, seconds: number): void;
  /** Bytes of the recording not yet durable in object storage. */
  onRecordingLag(unsyncedBytes: number): void;
  /** An S3 call failed and will be retried: soon (transient) or after `waitMs` (a configuration fault). */
  onRecordingFailed(stage: RecordingStage, kind: 'transient' | 'configuration', attempt: number, err: unknown, waitMs: number | undefined): void;
  /** The store does not offer a housekeeping call (or forbids it): skipped. */
  onRecordingCallUnsupported(stage: RecordingStage, err: unknown): void;
  onMultipartStarted(key: string): void;
  onMultipartFinished(key: string, outcome: 'completed' | 'aborted' | 'left_open'): void;
  onDanglingUploadAborted(key: string, uploadId: string): void;
  onDrained(pipeline: string, complete: boolean, lagBytes: number): void;
  /** The drain ended: how, the bytes left per pipeline, and what became of the report to the receiver (`delivered`, or why not). */
  onDrainEnded(report: DrainReport, sent: string): void;
  /** The shipper cannot ship for want of a usable `setting` (INGEST_TOKEN): it runs idle, reading nothing, until one comes. */
  onIdle(setting: string): void;
  /** The setting is usable now: the pipelines start. */
  onConfigured(setting: string): void;
}
