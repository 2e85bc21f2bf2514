// GET /recordings/:workspace_id: one workspace's recording, for dashboards
// (read token). The whole-file object when it exists and holds at least what
// the segments hold (an object from an idle upload is older than segments
// that followed it), otherwise the durable segments concatenated in order:
// the same bytes either way, up to what is durable. ?generation= picks
// another generation than the one recording_refs points at.

import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { ObjectStore } from '../../shared/object-store.js';
import {
  contiguousSegments, GENERATION_METADATA, generationFinalKey, parseS3Url, primaryFinalKey, segmentsPrefix,
} from '../../shared/recording-keys.js';
import { isValidId } from '../../shared/wire.js';
import { RequestError } from '../errors.js';
import { fromStore, type RecordingStores } from '../recording/stores.js';
import { singleQuery } from '../request.js';
import type { RouteContext } from './context.js';

export const RECORDING_CONTENT_TYPE = 'application/x-asciicast';

async function* concatenated(store: ObjectStore, keys: string[]): AsyncGenerator<Buffer> {
  for (const key of keys) for await (const chunk of await store.read(key)) yield chunk as Buffer;
}

/** A generation is one segment of a key: never a path, never a header's end. */
function generationParam(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(raw) || /^\.+$/.test(raw)) throw new RequestError('bad_query', 'generation must be a generation id (letters, digits, ".", "_", "-")');
  return raw;
}

/** Reads with the reader identity only: dashboards never need more. */
export function recordingReadRoutes(app: FastifyInstance, ctx: RouteContext, stores: RecordingStores): void {
  const objects = () => stores.reader();

  async function generationOf(store: ObjectStore, storagePath: string): Promise<string | undefined> {
    const key = parseS3Url(storagePath)?.key ?? '';
    const segments = /\/segments\/([^/]+)\/$/.exec(key);
    if (segments) return segments[1];
    return (await fromStore(store.head(key)))?.metadata[GENERATION_METADATA];
  }

  app.get('/recordings/:workspace_id', { config: { access: 'read' } }, async (req, reply) => {
    const ws = (req.params as { workspace_id: string }).workspace_id;
    if (!isValidId(ws)) throw new RequestError('bad_query', 'workspace_id must be 1-253 printable characters');
    const asked = generationParam(singleQuery(req.query).generation);
    const s = await objects();
    const ref = (await ctx.pool.query<{ storage_path: string }>('SELECT storage_path FROM recording_refs WHERE workspace_id = $1', [ws])).rows[0];
    const generation = asked ?? (ref ? await generationOf(s, ref.storage_path) : undefined);
    if (!generation) throw new RequestError('not_found', `no recording for workspace ${ws}`);

    const primary = primaryFinalKey(ws);
    const primaryHead = await fromStore(s.head(primary));
    const finalKey = primaryHead?.metadata[GENERATION_METADATA] === generation ? primary : generationFinalKey(ws, generation);
    const final = finalKey === primary ? primaryHead : await fromStore(s.head(finalKey));
    const segments = contiguousSegments(await fromStore(s.list(segmentsPrefix(ws, generation))));
    reply.type(RECORDING_CONTENT_TYPE).header('x-recording-generation', generation);
    if (final && final.size >= (segments.at(-1)?.end ?? 0)) return reply.header('x-recording-source', 'final').send(await fromStore(s.read(finalKey)));
    if (segments.length === 0) throw new RequestError('not_found', `nothing of generation ${generation} is durable yet`);
    return reply
      .header('x-recording-source', 'segments')
      .header('content-length', String(segments.at(-1)!.end))
      .send(Readable.from(concatenated(s, segments.map((x) => x.key))));
  });
}
