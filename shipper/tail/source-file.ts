// One open incarnation of a tailed file. Reads are positional (FileHandle.read
// at an explicit byte offset), so offsets are bytes, never characters. The
// handle stays open when the path is replaced, so the old file can be read to
// its end before the shipper moves to the new one.
//
// Anything but a regular file in the file's place (a folder, a FIFO, a
// socket) is an error of that file, as EACCES or EIO are: the pipeline counts
// it and tries again later (see the pipelines' run loops).
//
// Following a writer means, per line, the file's size, the new bytes and the
// first line (which vouches for them). Those calls are made on the event
// loop's own thread: the bytes were just written and are in the page cache, a
// call takes microseconds, and a trip through libuv's thread pool cost
// 0.1-0.3 ms each on an idle VM, most of the shipper's part of a line's
// latency. Reads larger than ON_LOOP_READ_BYTES (a catch-up) go through the
// pool, so they never hold the event loop.

import { constants, fstatSync, readSync, statSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { generationId, readFingerprint, type FileIdentity } from './generation.js';

const ON_LOOP_READ_BYTES = 64 * 1024;

export interface SourceFile extends FileIdentity {
  path: string;
  /** Undefined until the file has a first line (or FINGERPRINT_BYTES). */
  fingerprint?: Buffer;
  size(): Promise<number>;
  /** Reads up to `length` bytes at `position` into `into`, through this open file (also after the path was replaced); returns the bytes read. */
  read(into: Buffer, length: number, position: number): Promise<number>;
  /** Tries to establish the fingerprint; true once it exists. */
  identify(): Promise<boolean>;
  /** The content was truncated or rewritten: identify it again. */
  forgetIdentity(): void;
  generation(truncations: number): string;
  /** What the path holds now, compared with this open file. */
  pathState(): Promise<'same' | 'replaced' | 'missing'>;
  /** True when the first line no longer matches (rewritten in place). */
  rewritten(): Promise<boolean>;
  close(): Promise<void>;
}

/** Error code of a path that holds something other than a regular file or a folder (a FIFO, a socket, a device). */
export const NOT_REGULAR = 'ENOTREG';

/** Opens the file at `path`; undefined while there is none (it is waited for). */
export async function openSource(path: string): Promise<SourceFile | undefined> {
  let fh: FileHandle;
  try {
    // Non-blocking, so that a FIFO in the file's place does not hold a thread until someone writes to it.
    // Never through a symbolic link: the workspace writes this folder, and a link to a file of the
    // shipper's own (a mounted secret, /proc/self/environ) would ship it (ELOOP, a file error).
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const st = await fh.stat().catch(async (err: unknown) => {
    await fh.close();
    throw err;
  });
  if (!st.isFile()) {
    await fh.close();
    const code = st.isDirectory() ? 'EISDIR' : NOT_REGULAR;
    throw Object.assign(new Error(`${code}: ${path} is not a regular file`), { code });
  }
  const source: SourceFile = {
    path,
    dev: st.dev,
    ino: st.ino,
    async size() {
      return fstatSync(fh.fd).size;
    },
    async read(into, length, position) {
      let total = 0;
      while (total < length) {
        const bytesRead = length <= ON_LOOP_READ_BYTES
          ? readSync(fh.fd, into, total, length - total, position + total)
          : (await fh.read(into, total, length - total, position + total)).bytesRead;
        if (bytesRead === 0) break;
        total += bytesRead;
      }
      return total;
    },
    async identify() {
      source.fingerprint ??= readFingerprint(fh.fd);
      return source.fingerprint !== undefined;
    },
    forgetIdentity() {
      source.fingerprint = undefined;
    },
    generation(truncations) {
      if (!source.fingerprint) throw new Error('generation() before identify()');
      return generationId(source, source.fingerprint, truncations);
    },
    async pathState() {
      try {
        const now = statSync(path);
        return now.dev === source.dev && now.ino === source.ino ? 'same' : 'replaced';
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
        throw err;
      }
    },
    async rewritten() {
      if (!source.fingerprint) return false;
      const now = readFingerprint(fh.fd);
      return now === undefined || !now.equals(source.fingerprint);
    },
    close: () => fh.close(),
  };
  return source;
}
