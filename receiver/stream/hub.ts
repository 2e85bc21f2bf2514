// The stream hub of one receiver replica: it follows ferry_stream_events from
// its position (woken by its own commits, and by NOTIFY from the others) and
// fans each event out to the connected clients that are live. A client that
// arrives with Last-Event-ID first catches up from the table on its own, then
// joins the live fan-out at the hub's position.

import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type pg from 'pg';
import type { ReceiverEvents } from '../events.js';
import { comparePositions, latestPosition, oldestPosition, ORIGIN, prune, readAfter, type Position } from './feed.js';
import { listen, type Listener } from './listener.js';
import { createNotifier } from './notifier.js';
import { createSseClient, type SseClient } from './sse-client.js';

const PAGE = 1_000;
const REPLAY_PAGE = 500;
/** Re-read this soon when committed events wait behind a transaction still running. */
const HELD_RECHECK_MS = 20;
const ERROR_RETRY_MS = 1_000;
/** With clients connected, read this often even without a notification (one lost to a broken connection). */
const SAFETY_READ_MS = 1_000;
const CLIENT_RETRY_MS = 2_000;

export interface StreamOptions {
  listenUrl: string;
  replaySeconds: number;
  heartbeatMs: number;
  clientBufferBytes: number;
}

type StreamHooks = Pick<ReceiverEvents, 'onStreamDelivered' | 'onStreamClients' | 'onStreamClientDropped' | 'onStreamError'>;

export interface StreamHub {
  /** Starts following (the schema must exist). */
  start(): Promise<void>;
  /** A batch with events has committed here: read it now, and wake the other replicas. */
  published(): void;
  /** Serves one client on a raw response, from `from` (Last-Event-ID) or from now. */
  attach(res: ServerResponse, from: Position | undefined, workspaces: ReadonlySet<string> | undefined): void;
  stop(): Promise<void>;
}

export function createStreamHub(pool: pg.Pool, o: StreamOptions, hooks: StreamHooks): StreamHub {
  let position: Position = ORIGIN;
  let started = false;
  let reading = false;
  let again = false;
  let recheck: NodeJS.Timeout | undefined;
  let listener: Listener | undefined;
  const timers: NodeJS.Timeout[] = [];
  const live = new Set<SseClient>();
  const all = new Set<SseClient>();
  const self = randomBytes(8).toString('hex');
  const notifier = createNotifier(pool, self, (err) => hooks.onStreamError('notify', err));

  function wake(): void {
    if (!started) return;
    if (reading) {
      again = true;
      return;
    }
    void follow();
  }

  async function follow(): Promise<void> {
    reading = true;
    clearTimeout(recheck);
    try {
      for (;;) {
        again = false;
        const page = await readAfter(pool, position, PAGE);
        const now = Date.now() / 1000;
        for (const e of page.events) {
          position = e.position;
          for (const c of live) c.send(e);
        }
        if (page.events.length > 0) hooks.onStreamDelivered(page.events.length, page.events.map((e) => now - e.createdAt));
        if (page.held) recheck = setTimeout(wake, HELD_RECHECK_MS);
        if (page.events.length < PAGE && !again) break;
      }
    } catch (err) {
      hooks.onStreamError('read', err);
      recheck = setTimeout(wake, ERROR_RETRY_MS);
    } finally {
      reading = false;
    }
  }

  async function catchUp(c: SseClient): Promise<void> {
    try {
      // Behind the hub, and behind every event still kept (or none is): some were pruned.
      const oldest = await oldestPosition(pool);
      if (comparePositions(c.position, ORIGIN) > 0 && (!oldest || comparePositions(c.position, oldest) < 0)) {
        c.reset(position, 'Last-Event-ID is older than the replay window; reload from the read API');
      }
      // Until the client reaches the hub's position, it reads on its own, waiting for its socket.
      while (c.open && comparePositions(c.position, position) < 0) {
        const page = await readAfter(pool, c.position, REPLAY_PAGE);
        for (const e of page.events) {
          if (!c.send(e)) return;
          await c.drained();
        }
        if (page.events.length === 0) break;
      }
      if (c.open) live.add(c);
    } catch (err) {
      hooks.onStreamError('read', err);
      c.end();
    }
  }

  return {
    async start() {
      position = await latestPosition(pool);
      started = true;
      listener = listen(o.listenUrl, { self, onWake: wake, onError: (err) => hooks.onStreamError('listen', err) });
      timers.push(setInterval(() => { for (const c of all) c.heartbeat(); }, o.heartbeatMs));
      timers.push(setInterval(() => { if (live.size > 0) wake(); }, SAFETY_READ_MS));
      const pruneEvery = Math.min(60_000, (o.replaySeconds * 1000) / 4);
      timers.push(setInterval(() => void prune(pool, o.replaySeconds).catch((err) => hooks.onStreamError('prune', err)), pruneEvery));
    },
    published() {
      wake();
      notifier.poke();
    },
    attach(res, from, workspaces) {
      const c: SseClient = createSseClient(res, {
        workspaces,
        position: from ?? position,
        maxBufferBytes: o.clientBufferBytes,
        retryMs: CLIENT_RETRY_MS,
        onDropped: () => hooks.onStreamClientDropped(),
        onClosed: () => {
          live.delete(c);
          all.delete(c);
          hooks.onStreamClients(all.size);
        },
      });
      all.add(c);
      hooks.onStreamClients(all.size);
      if (comparePositions(c.position, position) >= 0) live.add(c);
      else void catchUp(c);
    },
    async stop() {
      started = false;
      clearTimeout(recheck);
      for (const t of timers) clearInterval(t);
      await listener?.stop();
      for (const c of all) c.end();
    },
  };
}
