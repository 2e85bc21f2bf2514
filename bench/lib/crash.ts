// The crash schedule: SIGKILL a shipper mid-backlog, start it again at once
// (as Kubernetes restarts a container), and time how long until the new
// process moves data again.

import type { ChildProcess } from 'node:child_process';
import { sleep } from './poll.js';

export interface Restarted<T> {
  next: T;
  /** From the new process's start to its first data moving, as `resumed` sees it; undefined when nothing moved within the time allowed. */
  resumeSeconds: number | undefined;
}

export async function killAndRestart<T>(victim: ChildProcess, start: () => Promise<T>, resumed: (next: T) => Promise<boolean>, timeoutS = 60): Promise<Restarted<T>> {
  const gone = new Promise<void>((r) => (victim.exitCode !== null || victim.signalCode !== null ? r() : victim.once('exit', () => r())));
  victim.kill('SIGKILL');
  await gone;
  const t0 = performance.now();
  const next = await start();
  // A probe that fails (the new process is not listening yet) means not yet; it must not leave `next` running unstopped.
  while (!(await resumed(next).catch(() => false))) {
    // A shipper that lost what it had queued may find nothing left to do: that is a result, not a failure.
    if (performance.now() - t0 > timeoutS * 1000) return { next, resumeSeconds: undefined };
    await sleep(10);
  }
  return { next, resumeSeconds: (performance.now() - t0) / 1000 };
}
