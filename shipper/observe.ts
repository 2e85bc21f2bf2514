// The production ShipperEvents: prom-client metrics and JSON logs.

import type { Registry } from 'prom-client';
import type { Log } from './json-log.js';
import { Counter, DURATION_BUCKETS, Gauge, Histogram } from '../shared/metric-classes.js';
import type { ShipperEvents } from './events.js';
import { s3FailureReason } from './record/s3-failures.js';

const P = 'ferry_shipper_';

export function createShipperEvents(registry: Registry, log: Log, checkpointAgeMs: () => number): ShipperEvents {
  const registers = [registry];
  const unshippedSince = new Map<string, number | undefined>();
  const lag = new Gauge({ name: `${P}lag_bytes`, help: 'Bytes of the file not yet committed by the receiver', labelNames: ['pipeline'], registers });
  new Gauge({
    name: `${P}oldest_unshipped_age_seconds`, help: 'How long unshipped data has been waiting in the file (0 when caught up)', labelNames: ['pipeline'], registers,
    collect() {
      for (const [pipeline, since] of unshippedSince) this.set({ pipeline }, since === undefined ? 0 : (Date.now() - since) / 1000);
    },
  });
  const events = new Counter({ name: `${P}events_sent_total`, help: 'Lines delivered (2xx)', labelNames: ['pipeline'], registers });
  const bytes = new Counter({ name: `${P}bytes_sent_total`, help: 'Bytes of lines delivered (2xx)', labelNames: ['pipeline'], registers });
  const requests = new Counter({ name: `${P}requests_total`, help: 'Requests to the receiver, by HTTP status (network_error when there was no answer, untrusted when the receiver\'s certificate was refused)', labelNames: ['pipeline', 'status'], registers });
  const retries = new Counter({ name: `${P}retries_total`, help: 'Failed attempts that will be retried: retryable (network, 408, 429, 5xx), refused (other 4xx), misdirected (a 2xx without the receiver\'s answer) or untrusted (the receiver\'s TLS certificate failed verification); the last three are configuration faults', labelNames: ['pipeline', 'kind'], registers });
  const duration = new Histogram({ name: `${P}delivery_duration_seconds`, help: 'Time to deliver one batch, retries included', labelNames: ['pipeline'], buckets: DURATION_BUCKETS, registers });
  const receiverRejected = new Counter({ name: `${P}receiver_rejected_lines_total`, help: 'Lines the receiver stored as rejects (see ingest_rejects)', labelNames: ['pipeline'], registers });
  const duplicates = new Counter({ name: `${P}duplicate_lines_total`, help: 'Lines the receiver already had (resent after a restart or retry)', labelNames: ['pipeline'], registers });
  const tooLong = new Counter({ name: `${P}lines_too_long_total`, help: 'Lines over MAX_LINE_BYTES, reported to /ingest/rejects and skipped', labelNames: ['pipeline'], registers });
  const gaps = new Counter({ name: `${P}offset_gaps_total`, help: 'Times the receiver said to resume from another offset (409)', labelNames: ['pipeline'], registers });
  const generations = new Counter({ name: `${P}generation_changes_total`, help: 'Files truncated, rewritten or replaced', labelNames: ['pipeline', 'reason'], registers });
  new Gauge({ name: `${P}checkpoint_age_seconds`, help: 'How long delivered progress has waited to be written to the checkpoint (0 when current)', registers, collect() { this.set(checkpointAgeMs() / 1000); } });
  const checkpointWrites = new Counter({ name: `${P}checkpoint_writes_total`, help: 'Checkpoint files written', registers });
  const checkpointErrors = new Counter({ name: `${P}checkpoint_write_errors_total`, help: 'Checkpoint writes that failed (retried at the next change)', registers });
  const recordingBytes = new Counter({ name: `${P}recording_bytes_uploaded_total`, help: 'Recording bytes uploaded to object storage, by kind (segment or final)', labelNames: ['kind'], registers });
  const segments = new Counter({ name: `${P}recording_segments_total`, help: 'Recording segments made durable', registers });
  const multipart = new Counter({ name: `${P}recording_multipart_uploads_total`, help: 'Multipart uploads (the whole recording, and segments over 5 MiB), by outcome (started, completed, aborted, left_open: failed and not abortable)', labelNames: ['outcome'], registers });
  const recordingLag = new Gauge({ name: `${P}recording_unsynced_bytes`, help: 'Bytes of the recording not yet durable in object storage', registers });
  // Counted from the start until the first durable upload: 0 would read as "just synced" while nothing ever was.
  let lastSync = Date.now();
  new Gauge({ name: `${P}recording_last_sync_age_seconds`, help: 'Seconds since the recording last became durable in object storage (segment or final upload), or since the shipper started when it has not yet', registers, collect() { this.set((Date.now() - lastSync) / 1000); } });
  const fileErrors = new Counter({ name: `${P}file_errors_total`, help: 'Attempts at a file that failed (it is retried with backoff), by error code: EACCES, EISDIR, EIO, ELOOP, ENOTDIR, ENOTREG (a FIFO, socket or device)...', labelNames: ['pipeline', 'code'], registers });
  /** The error each failing pipeline last logged: a file's failure is logged once per change, not per attempt. */
  const failing = new Map<string, string>();
  const recordingFailures = new Counter({ name: `${P}recording_failures_total`, help: 'Object storage calls that failed, by stage and kind: transient (retried with backoff), configuration (retried every REFUSED_RETRY_DELAY_MS), unsupported (a housekeeping call the store lacks: skipped)', labelNames: ['stage', 'kind'], registers });
  /** Housekeeping calls already reported as unsupported: logged once per process. */
  const unsupported = new Set<string>();
  const waiting = new Gauge({ name: `${P}waiting_for_configuration`, help: '1 while the shipper runs idle for want of a usable setting (INGEST_TOKEN unset, unreadable or weak): it reads nothing until one comes', labelNames: ['setting'], registers });
  // Born at 0: the dashboard's panel and the alert see every shipper, idle or not.
  waiting.set({ setting: 'INGEST_TOKEN' }, 0);
  const drains = new Counter({ name: `${P}drains_total`, help: 'Drains (SIGTERM) by outcome: complete, deadline (data left when it passed), file_errors; also reported to the receiver, which outlives the pod', labelNames: ['outcome'], registers });
  const credentialReloads = new Counter({ name: `${P}credential_reloads_total`, help: 'INGEST_TOKEN_FILE read again (on its interval, or after a 401), by outcome: changed (in service now) or invalid (unreadable or weak: never sent)', labelNames: ['outcome'], registers });

  return {
    onStarted(pipelines) {
      log.info({ pipelines }, 'shipper started');
    },
    onFileOpened(pipeline, path) {
      log.info({ pipeline, path }, 'file opened');
    },
    onResumed(pipeline, generation, offset, source) {
      log.info({ pipeline, generation, offset, source }, 'shipping from offset');
    },
    onNewGeneration(pipeline, generation, reason) {
      generations.inc({ pipeline, reason });
      log.warn({ pipeline, previous_generation: generation, reason }, reason === 'truncated' ? 'file truncated: starting a new generation (bytes beyond the new size that were not shipped are lost)' : 'file rewritten: starting a new generation');
    },
    onBatchDelivered(pipeline, lines, n, seconds, answer) {
      events.inc({ pipeline }, lines);
      bytes.inc({ pipeline }, n);
      requests.inc({ pipeline, status: '200' });
      duration.observe({ pipeline }, seconds);
      if (typeof answer.rejected === 'number' && answer.rejected > 0) {
        receiverRejected.inc({ pipeline }, answer.rejected);
        log.warn({ pipeline, rejected: answer.rejected }, 'the receiver rejected lines (stored in ingest_rejects)');
      }
      if (typeof answer.duplicates === 'number' && answer.duplicates > 0) duplicates.inc({ pipeline }, answer.duplicates);
      log.debug({ pipeline, lines, bytes: n, seconds }, 'batch delivered');
    },
    onOffsetGap(pipeline, from, to) {
      gaps.inc({ pipeline });
      requests.inc({ pipeline, status: '409' });
      log.warn({ pipeline, from, to }, 'receiver is committed elsewhere; resuming from its offset');
    },
    onAttemptFailed(pipeline, f) {
      const d = f.delivery;
      requests.inc({ pipeline, status: d.status === 'untrusted' ? 'untrusted' : String(d.statusCode ?? 'network_error') });
      retries.inc({ pipeline, kind: d.status });
      if (d.status === 'untrusted') log.error({ pipeline, reason: d.reason, attempt: f.attempt, retry_in_ms: f.waitMs }, 'the receiver\'s TLS certificate is NOT TRUSTED: check TLS_CA_FILE (the CA that signed it), the host name in DASHBOARD_SERVICE_URL and the certificate\'s dates; retrying slowly, nothing is dropped');
      else if (d.status === 'refused') log.error({ pipeline, status: d.statusCode, reason: d.reason, attempt: f.attempt, retry_in_ms: f.waitMs }, 'receiver REFUSED the request: check DASHBOARD_SERVICE_URL, INGEST_TOKEN and batch limits; retrying slowly, nothing is dropped');
      else if (d.status === 'misdirected') log.error({ pipeline, status: d.statusCode, reason: d.reason, attempt: f.attempt, retry_in_ms: f.waitMs }, 'a 2xx that is NOT ferry-receiver\'s answer: DASHBOARD_SERVICE_URL leads somewhere else; nothing counts as delivered, retrying slowly');
      else log.warn({ pipeline, reason: d.reason, attempt: f.attempt, retry_in_ms: f.waitMs }, 'delivery failed; retrying');
    },
    onLineTooLong(pipeline, offset, length) {
      tooLong.inc({ pipeline });
      log.warn({ pipeline, offset, length }, 'line over MAX_LINE_BYTES: reported to the receiver as a reject and skipped');
    },
    onLag(pipeline, n, since) {
      lag.set({ pipeline }, n);
      unshippedSince.set(pipeline, since);
    },
    onPartialLineLeft(pipeline, n) {
      log.warn({ pipeline, bytes: n }, 'a last line without its newline was left unshipped');
    },
    onFileError(pipeline, path, code, err) {
      fileErrors.inc({ pipeline, code });
      if (failing.get(pipeline) === code) return;
      failing.set(pipeline, code);
      log.error({ pipeline, path, code, err: (err as Error)?.message ?? String(err) }, 'cannot read the file: retrying with backoff (the other pipelines go on)');
    },
    onFileRecovered(pipeline, path) {
      if (failing.delete(pipeline)) log.info({ pipeline, path }, 'the file can be read again');
    },
    onCheckpointWritten() {
      checkpointWrites.inc();
    },
    onCheckpointError(err) {
      checkpointErrors.inc();
      log.error({ err: (err as Error).message }, 'checkpoint write failed');
    },
    onCheckpointLoaded(status, detail) {
      if (status === 'ok' || status === 'missing') log.info({ status }, 'checkpoint loaded');
      else log.warn({ status, detail }, 'checkpoint unusable: positions come from the receiver');
    },
    onWatchError(err) {
      log.warn({ err: (err as Error).message }, 'filesystem notifications failed; polling');
    },
    onChangeUnannounced(file) {
      log.warn({ file }, 'the file changed without a filesystem notification (a file system that sends none for it): polling it every POLL_INTERVAL_MS');
    },
    onDrainStarted(signal, deadlineMs) {
      log.info({ signal, deadline_ms: deadlineMs }, 'draining: shipping everything before exit');
    },
    onRecordingGeneration(generation, synced, reason) {
      log.info({ generation, synced, reason }, 'recording generation');
    },
    onRecordingSegment(key, n, seconds) {
      lastSync = Date.now();
      segments.inc();
      recordingBytes.inc({ kind: 'segment' }, n);
      log.debug({ key, bytes: n, seconds }, 'recording segment durable');
    },
    onRecordingFinal(key, n, seconds) {
      lastSync = Date.now();
      recordingBytes.inc({ kind: 'final' }, n);
      log.info({ key, bytes: n, seconds }, 'whole recording uploaded');
    },
    onRecordingLag(n) {
      recordingLag.set(n);
    },
    onRecordingFailed(stage, kind, attempt, err, waitMs) {
      recordingFailures.inc({ stage, kind });
      if (kind === 'configuration') log.error({ stage, attempt, err: s3FailureReason(err), retry_in_ms: waitMs }, 'object storage REFUSED the call: check the receiver\'s RECORDING_BUCKET and its writer identity, the bucket policy, the store\'s endpoint as the receiver names it, and INGEST_TOKEN; retrying slowly, the recording stays on disk');
      else log.warn({ stage, attempt, err: s3FailureReason(err) }, 'object storage failed; retrying');
    },
    onRecordingCallUnsupported(stage, err) {
      recordingFailures.inc({ stage, kind: 'unsupported' });
      if (unsupported.has(stage)) return;
      unsupported.add(stage);
      log.warn({ stage, err: s3FailureReason(err) }, 'object storage does not offer this housekeeping call: skipped (set an AbortIncompleteMultipartUpload lifecycle rule on the bucket); the recording goes on');
    },
    onMultipartStarted() {
      multipart.inc({ outcome: 'started' });
    },
    onMultipartFinished(key, outcome) {
      multipart.inc({ outcome });
      if (outcome === 'aborted') log.warn({ key }, 'multipart upload aborted');
      if (outcome === 'left_open') log.warn({ key }, 'a failed multipart upload could not be aborted: the next start or the bucket\'s lifecycle rule removes it');
    },
    onDanglingUploadAborted(key, uploadId) {
      multipart.inc({ outcome: 'aborted' });
      log.warn({ key, upload_id: uploadId }, 'aborted a multipart upload left open by an earlier run');
    },
    onDrained(pipeline, complete, lagBytes) {
      if (complete) log.info({ pipeline }, 'pipeline drained');
      else log.error({ pipeline, lag_bytes: lagBytes }, 'pipeline stopped with data left (deadline)');
    },
    onCredentialChanged(credential, variable) {
      credentialReloads.inc({ outcome: 'changed' });
      log.info({ credential, variable }, 'credential changed: the new value is in service');
    },
    onCredentialInvalid(credential, variable, reason) {
      credentialReloads.inc({ outcome: 'invalid' });
      log.error({ credential, variable, reason }, 'credential cannot be used: it is never sent');
    },
    onDrainEnded(report, sent) {
      drains.inc({ outcome: report.outcome });
      const fields = { outcome: report.outcome, unshipped: report.unshipped, seconds: report.seconds, report: sent };
      if (report.outcome === 'complete') log.info(fields, 'drain ended');
      else log.error(fields, 'drain ended with data left behind');
    },
    onIdle(setting) {
      waiting.set({ setting }, 1);
      log.error({ setting }, `no usable ${setting}: the shipper runs IDLE (reads nothing, ships nothing) until one comes; the workspace is not affected`);
    },
    onConfigured(setting) {
      waiting.set({ setting }, 0);
      log.info({ setting }, `${setting} usable: shipping`);
    },
  };
}
