// The production ReceiverEvents: prom-client metrics and pino logs.

import type pg from 'pg';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Logger } from './log.js';
import { DURATION_BUCKETS } from '../shared/metrics.js';
import { MAINTENANCE_STEPS, type PartitionReport } from './db/partition-maintenance.js';
import { DRAIN_OUTCOMES } from '../shared/wire.js';
import type { ReceiverEvents } from './events.js';
import type { MemoryBudget } from './limits/memory-budget.js';

const P = 'ferry_receiver_';

export function createReceiverEvents(registry: Registry, log: Logger, pool: pg.Pool, budget: MemoryBudget): ReceiverEvents {
  const registers = [registry];
  const rows = new Counter({ name: `${P}rows_total`, help: 'Rows written, by table', labelNames: ['table'], registers });
  const rejects = new Counter({ name: `${P}rejects_total`, help: 'Lines stored in ingest_rejects, by stream and reason', labelNames: ['stream', 'reason'], registers });
  const duplicates = new Counter({ name: `${P}duplicates_total`, help: 'Lines skipped because their offset was already committed', labelNames: ['stream'], registers });
  const gaps = new Counter({ name: `${P}offset_gaps_total`, help: 'Requests answered 409 because they started beyond the committed offset', labelNames: ['stream'], registers });
  const bodyBytes = new Counter({ name: `${P}body_bytes_total`, help: 'Request body bytes read (after gzip decoding), by route stream', labelNames: ['stream'], registers });
  const copyDuration = new Histogram({ name: `${P}copy_duration_seconds`, help: 'PostgreSQL\'s time for the COPY that stored a request (shared by the requests of a group): from the answer to the statement before it to the COPY\'s own, all sent at once', labelNames: ['table'], buckets: DURATION_BUCKETS, registers });
  const groupRequests = new Histogram({ name: `${P}ingest_group_requests`, help: 'Requests stored together by one ingest transaction', buckets: [1, 2, 4, 8, 16, 32, 64, 128], registers });
  const requestDuration = new Histogram({ name: `${P}http_request_duration_seconds`, help: 'HTTP request duration, by route, method and status', labelNames: ['route', 'method', 'status'], buckets: DURATION_BUCKETS, registers });
  const requestErrors = new Counter({ name: `${P}request_errors_total`, help: 'Whole-request failures, by error code', labelNames: ['code'], registers });
  const limited = new Counter({ name: `${P}requests_limited_total`, help: 'Requests answered before their body was read: 429 for a workspace over its rate, 503 when the memory budget is full; by stream and limit', labelNames: ['stream', 'limit'], registers });
  const peerRefused = new Counter({ name: `${P}connections_refused_total`, help: 'Connections closed as soon as they were accepted, their client address holding MAX_CONNECTIONS_PER_PEER already', registers });
  new Gauge({ name: `${P}ingest_memory_bytes`, help: 'Request body bytes held now (read, parsed, queued, loading), against INGEST_MEMORY_BYTES', registers, collect() { this.set(budget.held()); } });
  new Gauge({ name: `${P}pool_in_use_connections`, help: 'PostgreSQL connections checked out by requests', registers, collect() { this.set(pool.totalCount - pool.idleCount); } });
  new Gauge({ name: `${P}pool_idle_connections`, help: 'PostgreSQL connections open and idle', registers, collect() { this.set(pool.idleCount); } });
  new Gauge({ name: `${P}pool_waiting_requests`, help: 'Requests waiting for a PostgreSQL connection', registers, collect() { this.set(pool.waitingCount); } });
  const streamEvents = new Counter({ name: `${P}stream_events_total`, help: 'Batch events read from ferry_stream_events and fanned out to /stream clients', registers });
  const streamDelay = new Histogram({ name: `${P}stream_delay_seconds`, help: 'Time from a batch event being stored to its fan-out to /stream clients', buckets: DURATION_BUCKETS, registers });
  const streamClients = new Gauge({ name: `${P}stream_clients`, help: 'Connected /stream clients', registers });
  const streamDropped = new Counter({ name: `${P}stream_clients_dropped_total`, help: '/stream clients cut off because they read too slowly', registers });
  const streamErrors = new Counter({ name: `${P}stream_errors_total`, help: 'Stream hub failures, by what failed (listen, notify, read, prune)', labelNames: ['what'], registers });
  const certificateExpiry = new Gauge({ name: `${P}tls_certificate_expiry_timestamp_seconds`, help: 'When the certificate served over HTTPS expires (Unix time), by its serial number; absent without TLS', labelNames: ['serial'], registers });
  const certificateRenewals = new Counter({ name: `${P}tls_certificate_renewals_total`, help: 'Changes of the certificate files, by outcome: renewed (now served) or failed (the previous certificate stays)', labelNames: ['outcome'], registers });
  const drains = new Counter({ name: `${P}drains_total`, help: 'Shipper drains reported (POST /ingest/drains), by outcome: complete, deadline (the pod\'s deletion left data behind), file_errors', labelNames: ['outcome'], registers });
  const drainUnshipped = new Counter({ name: `${P}drain_unshipped_bytes_total`, help: 'Bytes shippers reported left unshipped when their drain ended (lines and recording)', registers });
  // Born at 0, so that the first incomplete drain shows in increase().
  for (const outcome of DRAIN_OUTCOMES) drains.inc({ outcome }, 0);
  const presigned = new Counter({ name: `${P}recording_presigned_total`, help: 'PUTs presigned for shippers, by kind: object (a whole object up to 5 MiB) or part (of a multipart upload)', labelNames: ['kind'], registers });
  const credentialReloads = new Counter({ name: `${P}credential_reloads_total`, help: 'Credentials read again from their *_FILE, by credential and outcome: changed (in service now) or invalid (unreadable or weak: the value before stays)', labelNames: ['credential', 'outcome'], registers });
  const previousCredential = new Counter({ name: `${P}previous_credential_requests_total`, help: 'Requests authenticated with a credential\'s previous value: a rotation is done when this stops growing', labelNames: ['credential'], registers });
  const partitionsCreated = new Counter({ name: `${P}partitions_created_total`, help: 'Partitions this replica created ahead, by table', labelNames: ['table'], registers });
  const partitionsDropped = new Counter({ name: `${P}partitions_dropped_total`, help: 'Partitions this replica dropped past their retention, by table', labelNames: ['table'], registers });
  const maintenanceErrors = new Counter({ name: `${P}partition_maintenance_errors_total`, help: 'Partition maintenance steps that failed (create, retention, report); the next run tries again', labelNames: ['step'], registers });
  // Born at 0, so that the first failure shows in increase() and the dashboard has a series to draw.
  for (const step of MAINTENANCE_STEPS) maintenanceErrors.inc({ step }, 0);
  const partitions = new Gauge({ name: `${P}partitions`, help: 'Partitions of each log table, as the last maintenance run saw them', labelNames: ['table'], registers });
  const tableBytes = new Gauge({ name: `${P}table_bytes`, help: 'Bytes on disk of each log table: every partition, its indexes and TOAST', labelNames: ['table'], registers });
  // Both relative to the scrape's clock, from the times the last run found.
  const reports = new Map<string, PartitionReport>();
  new Gauge({
    name: `${P}partition_oldest_age_seconds`, help: 'Time since the end of the oldest partition\'s range; retention drops it once this passes the table\'s retention', labelNames: ['table'], registers,
    collect() { for (const r of reports.values()) if (Number.isFinite(r.oldestEndMs)) this.set({ table: r.table }, (Date.now() - r.oldestEndMs) / 1000); },
  });
  new Gauge({
    name: `${P}partition_headroom_seconds`, help: 'Time until a row stamped MAX_FUTURE_SECONDS ahead finds no partition, if none are created meanwhile (normally 2 days or more)', labelNames: ['table'], registers,
    collect() { for (const r of reports.values()) this.set({ table: r.table }, (r.exhaustedAtMs - Date.now()) / 1000); },
  });
  const databaseUp = new Gauge({ name: `${P}database_up`, help: '1 while this replica\'s own probe (SELECT 1 every 2 s on a connection of its own) finds PostgreSQL answering, 0 after two failures in a row', registers });
  databaseUp.set(0);

  return {
    onLoaded(stream, table, loaded, marks) {
      const { result, fresh } = loaded;
      if (result.accepted > 0) {
        rows.inc({ table }, result.accepted);
        copyDuration.observe({ table }, loaded.copySeconds);
      }
      if (result.rejected > 0) rows.inc({ table: 'ingest_rejects' }, result.rejected);
      if (result.duplicates > 0) duplicates.inc({ stream }, result.duplicates);
      for (const line of fresh) if (line.reject) rejects.inc({ stream, reason: line.reject.reason });
      // Where one request's time went: the hops of bench/README.md's timeline (latency).
      const ms = (from: number, to: number) => Number((to - from).toFixed(3));
      log.debug({
        stream, ...result,
        hops: marks && {
          received_at: Number((performance.timeOrigin + marks.received).toFixed(3)),
          read_ms: ms(marks.received, marks.read), parse_ms: ms(marks.read, marks.parsed),
          queue_ms: ms(marks.parsed, loaded.sentAt), database_ms: ms(loaded.sentAt, loaded.committedAt),
        },
      }, 'batch committed');
    },
    onIngestGroup(requests) {
      groupRequests.observe(requests);
    },
    onBodyRead(stream, bytes) {
      bodyBytes.inc({ stream }, bytes);
    },
    onOffsetGap(stream, workspaceId, sourceId, nextOffset) {
      gaps.inc({ stream });
      log.warn({ stream, workspace_id: workspaceId, source_id: sourceId, next_offset: nextOffset }, 'request starts beyond the committed offset; told the client to rewind');
    },
    onRecordingRef(workspaceId, changed) {
      if (changed) rows.inc({ table: 'recording_refs' });
      log.debug({ workspace_id: workspaceId, changed }, 'recording reference');
    },
    onRequest(route, method, status, seconds) {
      requestDuration.observe({ route, method, status: String(status) }, seconds);
    },
    onRequestFailed(code, status, err) {
      requestErrors.inc({ code });
      // A client that hung up is its own business: counted, not an error of ours.
      if (code === 'client_aborted') log.debug({ code, err: err instanceof Error ? err.message : String(err) }, 'client went away');
      // Shedding load is the budget doing its job, like a 429: one error line per refused body would let a flood fill the logs.
      else if (status >= 500 && code !== 'overloaded') log.error({ code, err: err instanceof Error ? err.message : String(err), stack: code === 'internal' && err instanceof Error ? err.stack : undefined }, 'request failed');
      else log.info({ code, err: err instanceof Error ? err.message : String(err) }, 'request refused');
    },
    onLimited(route, limit) {
      limited.inc({ stream: route.split('/').pop() ?? route, limit });
    },
    onPeerConnectionRefused(address, report) {
      peerRefused.inc();
      if (report) log.warn({ address }, 'a client address holds MAX_CONNECTIONS_PER_PEER connections; its further ones are closed as they come (logged once a minute per address)');
    },
    onDatabaseProbe(up, err) {
      databaseUp.set(up ? 1 : 0);
      if (up) log.info('PostgreSQL answers this replica\'s probe');
      else log.error({ err: err instanceof Error ? err.message : String(err) }, 'PostgreSQL does not answer this replica\'s probe: requests are answered 503 until it does');
    },
    onMigrated(applied) {
      log.info({ applied }, applied.length > 0 ? 'migrations applied' : 'schema up to date');
    },
    onDatabaseWait(err, attempt) {
      log.warn({ err: err instanceof Error ? err.message : String(err), attempt }, 'PostgreSQL not reachable yet; retrying');
    },
    onCertificate(info, how) {
      // Both outcomes from 0 as soon as TLS is on: a broken pair is counted
      // once, and increase() takes a series' first sample as its base, so a
      // series born at 1 would never show that failure to the alert.
      if (how === 'loaded') for (const outcome of ['renewed', 'failed']) certificateRenewals.inc({ outcome }, 0);
      certificateExpiry.reset();
      certificateExpiry.set({ serial: info.serial }, info.notAfter.getTime() / 1000);
      if (how === 'renewed') certificateRenewals.inc({ outcome: 'renewed' });
      const fields = { serial: info.serial, subject: info.subject, not_after: info.notAfter.toISOString() };
      if (info.notAfter.getTime() <= Date.now()) log.error(fields, 'the TLS certificate has EXPIRED: clients refuse it until it is renewed');
      else log.info(fields, how === 'loaded' ? 'serving HTTPS' : 'renewed TLS certificate picked up: new connections get it');
    },
    onCertificateRenewalFailed(err) {
      certificateRenewals.inc({ outcome: 'failed' });
      log.error({ err: err instanceof Error ? err.message : String(err) }, 'the TLS certificate files changed but cannot be served: keeping the previous certificate');
    },
    onCredentialChanged(credential, variable) {
      credentialReloads.inc({ credential, outcome: 'changed' });
      log.info({ credential, variable }, 'credential changed: the new value is in service');
    },
    onCredentialInvalid(credential, variable, reason) {
      credentialReloads.inc({ credential, outcome: 'invalid' });
      log.error({ credential, variable, reason }, 'credential cannot be used: keeping the value read before');
    },
    onDrainReported(outcome, bytes) {
      drains.inc({ outcome });
      drainUnshipped.inc(bytes);
      if (outcome !== 'complete') log.warn({ outcome, unshipped_bytes: bytes }, 'a shipper ended its drain with data left behind');
    },
    onPresigned(kind) {
      presigned.inc({ kind });
    },
    onPreviousCredentialUsed(credential) {
      previousCredential.inc({ credential });
    },
    onStreamDelivered(events, delays) {
      streamEvents.inc(events);
      for (const d of delays) streamDelay.observe(Math.max(0, d));
    },
    onStreamClients(count) {
      streamClients.set(count);
    },
    onStreamClientDropped() {
      streamDropped.inc();
      log.info('a /stream client read too slowly and was cut off; it can resume with Last-Event-ID');
    },
    onStreamError(what, err) {
      streamErrors.inc({ what });
      log.warn({ what, err: err instanceof Error ? err.message : String(err) }, 'live stream: PostgreSQL failed; retrying');
    },
    onPartitionsCreated(created) {
      for (const p of created) partitionsCreated.inc({ table: p.table });
      log.info({ partitions: created.map((p) => p.name) }, 'partitions created ahead');
    },
    onPartitionsDropped(dropped) {
      for (const d of dropped) partitionsDropped.inc({ table: d.parent });
      log.info({ partitions: dropped.map((d) => d.partition) }, 'partitions past their retention dropped');
    },
    onPartitionReport(report) {
      for (const r of report) {
        reports.set(r.table, r);
        partitions.set({ table: r.table }, r.partitions);
        tableBytes.set({ table: r.table }, r.bytes);
      }
    },
    onPartitionMaintenanceFailed(step, err) {
      maintenanceErrors.inc({ step });
      log.warn({ step, err: err instanceof Error ? err.message : String(err) }, 'partition maintenance failed; the next run tries again');
    },
  };
}
