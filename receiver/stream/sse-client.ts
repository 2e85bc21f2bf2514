// One dashboard connection to GET /stream. Events are written as they come;
// the socket's own buffer is the only queue, and a client whose buffer grows
// past the limit is slow: it is cut off (it reconnects with Last-Event-ID and
// catches up from the table) rather than buffered without bound.

import type { ServerResponse } from 'node:http';
import { comparePositions, formatPosition, type FeedEvent, type Position } from './feed.js';

export interface SseClientOptions {
  /** Only these workspaces' events; all when undefined. */
  workspaces: ReadonlySet<string> | undefined;
  position: Position;
  maxBufferBytes: number;
  retryMs: number;
  onDropped(): void;
  onClosed(): void;
}

export interface SseClient {
  /** The last position this client has been given (or skipped, filtered out). */
  readonly position: Position;
  readonly open: boolean;
  /** Writes the event when it is new to this client and passes its filter; false when the client was dropped. */
  send(event: FeedEvent): boolean;
  /** Resolves when the socket has room again (replays wait; live events do not). */
  drained(): Promise<void>;
  /** A comment that keeps proxies from closing an idle stream; carries the position as the id. */
  heartbeat(): void;
  /** Tells the client it is behind the replay window: reload state, then follow live. */
  reset(position: Position, reason: string): void;
  end(): void;
}

export function createSseClient(res: ServerResponse, o: SseClientOptions): SseClient {
  let position = o.position;
  let open = true;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    'x-accel-buffering': 'no',
    connection: 'keep-alive',
  });
  res.write(`retry: ${o.retryMs}\n\n`);
  res.on('close', () => {
    open = false;
    o.onClosed();
  });

  function write(text: string): boolean {
    if (!open) return false;
    res.write(text);
    if (res.writableLength > o.maxBufferBytes) {
      open = false;
      o.onDropped();
      res.destroy();
      return false;
    }
    return true;
  }

  return {
    get position() { return position; },
    get open() { return open; },
    send(event) {
      if (comparePositions(event.position, position) <= 0) return open;
      position = event.position;
      if (o.workspaces && !o.workspaces.has(event.workspaceId)) return open;
      return write(`id: ${formatPosition(position)}\nevent: batch\ndata: ${event.body}\n\n`);
    },
    drained() {
      if (!open || !res.writableNeedDrain) return Promise.resolve();
      return new Promise((resolve) => {
        const done = () => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    },
    heartbeat() {
      write(`: keep-alive\nid: ${formatPosition(position)}\n\n`);
    },
    reset(to, reason) {
      position = to;
      write(`id: ${formatPosition(to)}\nevent: reset\ndata: ${JSON.stringify({ reason })}\n\n`);
    },
    end() {
      open = false;
      res.end();
    },
  };
}
