// Noticing new data: filesystem notifications on the runtime folder (inotify
// on Linux) wake a file's pipeline, and while the folder is watched nothing
// else does but a rare safety poll (SAFETY_POLL_INTERVAL_MS), for a
// notification the kernel dropped or a folder moved away under its path: an
// idle shipper does no work. Polling every POLL_INTERVAL_MS is kept for where
// notifications are known not to come: while the folder cannot be watched
// (it does not exist yet, or the watch failed), and for a file whose change a
// poll found without a notification (a network or FUSE file system that
// sends none for writes made elsewhere).

import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';

/** Why a wait ended: a notification for the file, a poll, the caller's own time limit, or wake() (drain, shutdown). */
export type WakeReason = 'notified' | 'poll' | 'timeout' | 'woken';

export interface Wakeup {
  /** Resolves at the next notification (or one that came since the last wait), at the next poll, or after `maxMs`. */
  wait(maxMs?: number): Promise<WakeReason>;
  /** Wakes the waiter now (drain, shutdown). */
  wake(): void;
  /**
   * The file had changed when a poll woke the pipeline. Unless its
   * notification has come since (late), notifications do not cover this file:
   * it is polled every POLL_INTERVAL_MS from now on.
   */
  changedUnannounced(): void;
}

export interface Watcher {
  subscribe(file: string): Wakeup;
  close(): void;
}

export interface WatcherOptions {
  /** The poll where notifications do not come. */
  pollMs: number;
  /** The poll while they do. */
  safetyPollMs: number;
  onError(err: unknown): void;
  /** A file's changes come without notifications: it is polled from now on. */
  onUnannounced(file: string): void;
}

interface Subscriber extends Wakeup {
  notify(): void;
}

export function createWatcher(dir: string, o: WatcherOptions): Watcher {
  const byFile = new Map<string, Subscriber[]>();
  /** The folder being watched, by identity: a folder replaced under the path is watched again. */
  let watched: { fsWatcher: FSWatcher; dev: number; ino: number } | undefined;
  /** Counts the starts and ends of watching: a poll during a wait that began unwatched accuses no file. */
  let epoch = 0;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;

  const notifyAll = () => byFile.forEach((list) => list.forEach((s) => s.notify()));

  function unwatch(): void {
    watched?.fsWatcher.close();
    watched = undefined;
    epoch++;
  }

  /** Watches the folder at `dir` unless that is being done; looks again later. */
  async function check(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = undefined;
    const st = await stat(dir).catch(() => undefined);
    if (closed) return;
    if (!(watched && st && st.dev === watched.dev && st.ino === watched.ino)) {
      // The folder went away or was replaced: what the files are now is looked at once.
      if (watched) {
        unwatch();
        notifyAll();
      }
      if (st?.isDirectory()) start(st);
    }
    // Unwatched, as often as the files are polled then (at least a second apart: a failed watch is logged each time).
    timer = setTimeout(() => void check(), watched ? o.safetyPollMs : Math.max(o.pollMs, 1000));
    timer.unref();
  }

  function start(st: { dev: number; ino: number }): void {
    try {
      const fsWatcher = watch(dir, { persistent: false }, (_event, name) => {
        if (name === null) return notifyAll();
        // inotify names the folder itself when it is deleted or moved.
        if (name === basename(dir)) void check();
        byFile.get(name.toString())?.forEach((s) => s.notify());
      });
      fsWatcher.on('error', (err) => {
        o.onError(err);
        if (watched?.fsWatcher !== fsWatcher) return;
        unwatch();
        notifyAll();
        void check();
      });
      watched = { fsWatcher, dev: st.dev, ino: st.ino };
      epoch++;
      // A change between the last poll and the watch came without a notification.
      notifyAll();
    } catch (err) {
      o.onError(err);
    }
  }

  function subscriber(file: string): Subscriber {
    let pending: WakeReason | undefined;
    let release: ((reason: WakeReason) => void) | undefined;
    /** A notification came since the last wait began. */
    let notified = false;
    let waitEpoch = -1;
    let polled = false;
    const resolveOrKeep = (reason: WakeReason) => {
      if (release) release(reason);
      else if (pending !== 'woken') pending = reason;
    };
    return {
      wait(maxMs = Infinity) {
        notified = false;
        waitEpoch = epoch;
        if (pending) {
          const reason = pending;
          pending = undefined;
          return Promise.resolve(reason);
        }
        const pollMs = watched && !polled ? o.safetyPollMs : o.pollMs;
        return new Promise((resolve) => {
          const t = setTimeout(() => done(maxMs < pollMs ? 'timeout' : 'poll'), Math.min(pollMs, maxMs));
          function done(reason: WakeReason) {
            clearTimeout(t);
            release = undefined;
            resolve(reason);
          }
          release = done;
        });
      },
      wake: () => resolveOrKeep('woken'),
      notify() {
        notified = true;
        resolveOrKeep('notified');
      },
      changedUnannounced() {
        if (polled || notified || !watched || waitEpoch !== epoch) return;
        polled = true;
        o.onUnannounced(file);
      },
    };
  }

  void check();

  return {
    subscribe(file) {
      const s = subscriber(file);
      byFile.set(file, [...(byFile.get(file) ?? []), s]);
      return s;
    },
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      watched?.fsWatcher.close();
      watched = undefined;
    },
  };
}
