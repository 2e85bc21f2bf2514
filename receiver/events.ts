// What the receiver reports about itself. The data path calls these; metrics
// and logs live behind them (receiver/observe.ts), so tests can record them.

import type { CredentialEvents } from '../shared/credential.js';
import type { DrainOutcome, LineStream } from '../shared/wire.js';
import type { MaintenanceStep, PartitionReport } from './db/partition-maintenance.js';
import type { Partition, Retired } from './db/partitions.js';
import type { RequestErrorCode } from './errors.js';
import type { Loaded } from './ingest/load.js';
import type { Limit } from './limits/admission.js';
import type { CertificateInfo } from './tls.js';

/** performance.now() marks of an ingest request before its transaction (Loaded has the rest). */
export interface RequestMarks {
  /** Its first byte. */
  received: number;
  /** Its body read. */
  read: number;
  parsed: number;
}

export interface ReceiverEvents extends CredentialEvents {
  onLoaded(stream: LineStream, table: string, loaded: Loaded, marks?: RequestMarks): void;
  /** An ingest transaction starts for this many requests. */
  onIngestGroup(requests: number): void;
  onBodyRead(stream: string, bytes: number): void;
  onOffsetGap(stream: LineStream, workspaceId: string, sourceId: string, nextOffset: number): void;
  onRecordingRef(workspaceId: string, changed: boolean): void;
  /** A shipper reported how its drain ended, and the bytes it left behind. */
  onDrainReported(outcome: DrainOutcome, unshippedBytes: number): void;
  /** A PUT presigned for a shipper: a whole small object or one part of a multipart upload. */
  onPresigned(kind: 'object' | 'part'): void;
  onRequest(route: string, method: string, status: number, seconds: number): void;
  onRequestFailed(code: RequestErrorCode, status: number, err: unknown): void;
  /** A request was answered before its body was read, because of `limit`. */
  onLimited(route: string, limit: Limit): void;
  /** A connection from `address` was closed as soon as it was accepted: that address holds MAX_CONNECTIONS_PER_PEER already (`report`: at most once a minute per address). */
  onPeerConnectionRefused(address: string, report: boolean): void;
  /** The database probe's verdict changed. */
  onDatabaseProbe(up: boolean, err?: unknown): void;
  onMigrated(applied: number[]): void;
  onDatabaseWait(err: unknown, attempt: number): void;
  /** The certificate served over HTTPS: at startup, and after each renewal picked up from the files. */
  onCertificate(info: CertificateInfo, how: 'loaded' | 'renewed'): void;
  /** The certificate files changed but cannot be served: the previous certificate stays. */
  onCertificateRenewalFailed(err: unknown): void;
  /** A request authenticated with a credential's previous value (a rotation still going round). */
  onPreviousCredentialUsed(credential: string): void;
  /** The stream hub read `events` new events; each delay is from storing to fan-out. */
  onStreamDelivered(events: number, delaysSeconds: number[]): void;
  onStreamClients(count: number): void;
  onStreamClientDropped(): void;
  onStreamError(what: 'listen' | 'notify' | 'read' | 'prune', err: unknown): void;
  onPartitionsCreated(created: Partition[]): void;
  onPartitionsDropped(dropped: Retired[]): void;
  /** What partition maintenance found, per table, at the end of a run. */
  onPartitionReport(report: PartitionReport[]): void;
  onPartitionMaintenanceFailed(step: MaintenanceStep, err: unknown): void;
}
