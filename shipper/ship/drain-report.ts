// The shipper's last request: how its drain ended, and the bytes it left per
// pipeline (POST /ingest/drains). One attempt, bounded: the pod is going
// away, and the report's own budget is part of the grace period (README,
// "The drain budget"). What the receiver does not hear stays in the logs.

import { ANSWER_KEYS, CONTENT_TYPES, HEADERS, PATHS, type DrainReport } from '../../shared/wire.js';
import type { HttpTransport } from './http-transport.js';

/** The longest the report may take, after the drain deadline. */
export const DRAIN_REPORT_TIMEOUT_MS = 2_000;

/** Resolves with what became of the report: `delivered`, or why not. */
export async function reportDrain(http: HttpTransport, workspaceId: string, report: DrainReport): Promise<string> {
  const delivery = await http.send({
    path: PATHS.drains, contentType: CONTENT_TYPES.json, headers: { [HEADERS.workspaceId]: workspaceId }, body: JSON.stringify(report), answerKey: ANSWER_KEYS.drains,
  }, AbortSignal.timeout(DRAIN_REPORT_TIMEOUT_MS));
  return delivery.status === 'delivered' ? 'delivered' : 'reason' in delivery ? delivery.reason : delivery.status;
}
