// Where a workspace's recording lives in the bucket. The shipper writes these
// keys and the receiver reads them, so the layout is described once, here.
//
//   recordings/<ws>/session.cast                          the whole file, first generation
//   recordings/<ws>/session.<generation>.cast             the whole file, later generations
//   recordings/<ws>/segments/<generation>/<start>-<end>   immutable byte ranges, while it grows
//
// Offsets are zero-padded, so segment keys sort in file order.

const PAD = 15;

export function workspacePrefix(workspaceId: string): string {
  return `recordings/${workspaceId}/`;
}

/** Where every generation's segments are: one folder per generation. */
export function segmentsRoot(workspaceId: string): string {
  return `${workspacePrefix(workspaceId)}segments/`;
}

export function segmentsPrefix(workspaceId: string, generation: string): string {
  return `${segmentsRoot(workspaceId)}${generation}/`;
}

/** The generation a folder under segmentsRoot names. */
export function folderGeneration(folder: string): string {
  return folder.replace(/\/$/, '').split('/').at(-1)!;
}

export function segmentKey(workspaceId: string, generation: string, start: number, end: number): string {
  return `${segmentsPrefix(workspaceId, generation)}${String(start).padStart(PAD, '0')}-${String(end).padStart(PAD, '0')}`;
}

export function parseSegmentKey(key: string): { start: number; end: number } | undefined {
  const m = /\/(\d+)-(\d+)$/.exec(key);
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = Number(m[2]);
  return end > start ? { start, end } : undefined;
}

/** The canonical final object; a later generation gets its own key so the first is never overwritten. */
export function primaryFinalKey(workspaceId: string): string {
  return `${workspacePrefix(workspaceId)}session.cast`;
}

export function generationFinalKey(workspaceId: string, generation: string): string {
  return `${workspacePrefix(workspaceId)}session.${generation}.cast`;
}

/** Object metadata naming the generation a final object holds. */
export const GENERATION_METADATA = 'ferry-generation';

export function s3Url(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

export function parseS3Url(url: string): { bucket: string; key: string } | undefined {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(url);
  return m ? { bucket: m[1]!, key: m[2]! } : undefined;
}

/**
 * The segments that cover [0, end) without a hole, in order. Segments past a
 * hole, and any whose stored size is not what its key says (a store that kept
 * part of an interrupted upload), are ignored: they are written again.
 */
export function contiguousSegments(objects: ReadonlyArray<{ key: string; size: number }>): Array<{ key: string; start: number; end: number }> {
  const byStart = new Map<number, { key: string; start: number; end: number }>();
  for (const { key, size } of objects) {
    const r = parseSegmentKey(key);
    if (r && r.end - r.start === size && (byStart.get(r.start)?.end ?? -1) < r.end) byStart.set(r.start, { key, ...r });
  }
  const out: Array<{ key: string; start: number; end: number }> = [];
  for (let at = 0, next = byStart.get(0); next; at = next.end, next = byStart.get(at)) out.push(next);
  return out;
}
