// What went wrong with a file, as a short stable code for metrics and logs:
// the system error's code (EACCES, EISDIR, EIO, ELOOP, ENOTDIR, ...), ENOTREG
// for a FIFO, socket or device in the file's place, or `unexpected` for an
// error that carries no code (a bug: it is retried like the others, so one
// file never stops the shipper).

export function fileErrorCode(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : 'unexpected';
}
