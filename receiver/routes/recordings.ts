// POST /ingest/recordings: how much of a workspace's recording is durable in
// object storage. last_sync_byte never decreases; a change is published to the
// live stream. The path must lie in the workspace's own prefix of the bucket
// (recordings/<id>/): a workspace cannot point its row at another's objects.

import type { FastifyInstance } from 'fastify';
import { parseS3Url, workspacePrefix } from '../../shared/recording-keys.js';
import { HEADERS, PATHS } from '../../shared/wire.js';
import { inTransaction } from '../db/transaction.js';
import { RequestError } from '../errors.js';
import { idHeader, jsonObject } from '../request.js';
import { publishBatch } from '../stream/publish.js';
import type { RouteContext } from './context.js';

const UPSERT_REF = `
  INSERT INTO recording_refs AS r (workspace_id, storage_path, last_sync_byte, updated_at)
  VALUES ($1, $2, $3, now() AT TIME ZONE 'utc')
  ON CONFLICT (workspace_id) DO UPDATE SET
    storage_path = EXCLUDED.storage_path, last_sync_byte = EXCLUDED.last_sync_byte, updated_at = EXCLUDED.updated_at
    WHERE EXCLUDED.last_sync_byte > r.last_sync_byte
       OR (EXCLUDED.last_sync_byte = r.last_sync_byte AND EXCLUDED.storage_path <> r.storage_path)
  RETURNING storage_path, last_sync_byte`;
const SELECT_REF = 'SELECT storage_path, last_sync_byte FROM recording_refs WHERE workspace_id = $1';

interface Ref {
  storage_path: string;
  last_sync_byte: string;
}

function assertOwnPrefix(storagePath: string, workspaceId: string, bucket: string | undefined): void {
  const at = parseS3Url(storagePath);
  const prefix = workspacePrefix(workspaceId);
  if (!at || (bucket !== undefined && at.bucket !== bucket) || !at.key.startsWith(prefix) || at.key.split('/').includes('..')) {
    throw new RequestError('forbidden', `storage_path must be s3://${bucket ?? '<bucket>'}/${prefix}...: a workspace's recording lies in its own prefix`);
  }
}

export function recordingRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.head(PATHS.recordings, { config: { access: 'public' } }, async (_req, reply) => reply.code(200).send());
  // The workspace header was checked against the token before the body was read (access.ts).
  app.post(PATHS.recordings, { config: { access: 'ingest' } }, async (req) => {
    const workspaceId = idHeader(req.headers, HEADERS.workspaceId, true);
    const report = jsonObject(req.body, 'a recording report');
    const path = report.storage_path;
    const lastSync = report.last_sync_byte;
    if (typeof path !== 'string' || path === '' || path.length > 1024 || path.includes('\0')) throw new RequestError('bad_body', 'storage_path must be a non-empty string of at most 1024 characters');
    if (typeof lastSync !== 'number' || !Number.isSafeInteger(lastSync) || lastSync < 0) throw new RequestError('bad_body', 'last_sync_byte must be a non-negative integer');
    assertOwnPrefix(path, workspaceId, ctx.config.recordingBucket);
    const { updated, row } = await inTransaction(ctx.pool, async (client) => {
      const upsert = await client.query<Ref>(UPSERT_REF, [workspaceId, path, lastSync]);
      if (upsert.rowCount !== 1) return { updated: false, row: (await client.query<Ref>(SELECT_REF, [workspaceId])).rows[0]! };
      await publishBatch(client, 'recordings', [{ workspaceId, stored: 1, rejected: 0 }]);
      return { updated: true, row: upsert.rows[0]! };
    }, ctx.config.databaseTimeoutMs);
    ctx.events.onRecordingRef(workspaceId, updated);
    if (updated) ctx.hub.published();
    return { storage_path: row.storage_path, last_sync_byte: Number(row.last_sync_byte), updated: updated };
  });
}
