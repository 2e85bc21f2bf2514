// A Server-Sent Events client for tests: reads a /stream response and keeps
// every message, so a test can wait for what it expects and check the rest.

import { READ_TOKEN } from './receiver.js';
import { waitFor } from './wait.js';
import { atEnd } from './cleanup.js';

export interface SseMessage {
  id?: string;
  event: string;
  data: string;
}

export interface SseStream {
  status: number;
  messages: SseMessage[];
  /** The `batch` events' data, parsed. */
  batches(): Array<Record<string, any> & { _id: string }>;
  /** Comments received (heartbeats). */
  comments: string[];
  until(what: string, test: (s: SseStream) => boolean, timeoutMs?: number): Promise<unknown>;
  close(): void;
}

export async function openStream(url: string, o: { lastEventId?: string; token?: string | null; headers?: Record<string, string> } = {}): Promise<SseStream> {
  const controller = new AbortController();
  const headers: Record<string, string> = { accept: 'text/event-stream', ...o.headers };
  const token = o.token === undefined ? READ_TOKEN : o.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (o.lastEventId) headers['last-event-id'] = o.lastEventId;
  const res = await fetch(url, { headers, signal: controller.signal });
  const stream: SseStream = {
    status: res.status,
    messages: [],
    comments: [],
    batches: () => stream.messages.filter((m) => m.event === 'batch').map((m) => ({ ...JSON.parse(m.data), _id: m.id! })),
    until: (what, test, timeoutMs = 20_000) => waitFor(() => test(stream), what, timeoutMs),
    close: () => controller.abort(),
  };
  atEnd(() => stream.close());
  if (res.status !== 200 || !res.body) return stream;
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const m: SseMessage = { event: 'message', data: '' };
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) stream.comments.push(line.slice(1).trim());
            else if (line.startsWith('id: ')) m.id = line.slice(4);
            else if (line.startsWith('event: ')) m.event = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          m.data = data.join('\n');
          if (data.length > 0) stream.messages.push(m);
        }
      }
    } catch {
      /* aborted or cut off */
    }
  })();
  return stream;
}
