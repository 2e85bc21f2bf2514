// Noticing new data: filesystem notifications on the runtime folder (inotify
// on Linux), with a polling fallback for volumes where they do not fire. Each
// file gets a Wakeup that resolves on a notification for it or on the next
// poll tick, whichever comes first.

import { watch, type FSWatcher } from 'node:fs';

export interface Wakeup {
  /** Resolves at the next notification (or one that came since the last wait), or after the poll interval. */
  wait(): Promise<void>;
  /** Wakes the waiter now (drain, shutdown). */
  wake(): void;
}

export interface Watcher {
  subscribe(file: string): Wakeup;
  close(): void;
}

function createWakeup(pollMs: number): Wakeup {
  let pending = false;
  let release: (() => void) | undefined;
  return {
    wait() {
      if (pending) {
        pending = false;
        return Promise.resolve();
      }
      return new Promise((resolve) => {
        const timer = setTimeout(done, pollMs);
        function done() {
          clearTimeout(timer);
          release = undefined;
          pending = false;
          resolve();
        }
        release = done;
      });
    },
    wake() {
      if (release) release();
      else pending = true;
    },
  };
}

export function createWatcher(dir: string, pollMs: number, onError: (err: unknown) => void): Watcher {
  const byFile = new Map<string, Wakeup[]>();
  let fsWatcher: FSWatcher | undefined;
  let closed = false;

  // The folder may not exist yet (or may be replaced): keep trying to watch it.
  const ensureWatch = () => {
    if (closed || fsWatcher) return;
    try {
      fsWatcher = watch(dir, { persistent: false }, (_event, name) => {
        if (name === null) for (const list of byFile.values()) list.forEach((w) => w.wake());
        else byFile.get(name.toString())?.forEach((w) => w.wake());
      });
      fsWatcher.on('error', (err) => {
        onError(err);
        fsWatcher?.close();
        fsWatcher = undefined;
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') onError(err);
    }
  };
  ensureWatch();
  const retry = setInterval(ensureWatch, Math.max(pollMs, 1000));
  retry.unref();

  return {
    subscribe(file) {
      const w = createWakeup(pollMs);
      byFile.set(file, [...(byFile.get(file) ?? []), w]);
      return w;
    },
    close() {
      closed = true;
      clearInterval(retry);
      fsWatcher?.close();
    },
  };
}
