// The file side of an upload: where its bytes come from, and how it fails.
// Apart from the upload itself (file-upload.ts), so that a program without a
// bucket does not load the S3 client to know these.

/** Where the bytes come from: positional reads, as a file handle does them. */
export interface PositionalSource {
  read(into: Buffer, length: number, position: number): Promise<number>;
}

/** Code of a SourceError for a file that changed under the upload: it ended before the range did, or its source says it was rewritten. */
export const SOURCE_CHANGED = 'ECHANGED';

/**
 * The file failed, not the store: a read error, or the file changed
 * (SOURCE_CHANGED). No retry of the upload can fix it; the caller looks at
 * the file again.
 */
export class SourceError extends Error {
  constructor(message: string, readonly code: string, options?: ErrorOptions) {
    super(message, options);
  }
}
