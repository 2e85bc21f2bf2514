// A request over a bare TCP socket, for what a well-behaved client will not
// send: a Content-Length that lies, a body dribbled slower than the timeout,
// headers that never end. Resolves with the first answer, or with status
// null when the server closes the connection without one.

import { connect, type Socket } from 'node:net';
import type { RawPlan } from './corpus.js';

export interface RawAnswer {
  status: number | null;
  body: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function firstAnswer(socket: Socket, timeoutMs: number): Promise<RawAnswer> {
  return new Promise((resolve) => {
    let data = Buffer.alloc(0);
    const done = (answer: RawAnswer) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done({ status: null, body: `no answer in ${timeoutMs} ms` }), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      const headEnd = data.indexOf('\r\n\r\n');
      if (headEnd === -1) return;
      const head = data.subarray(0, headEnd).toString('latin1');
      const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
      if (data.length - headEnd - 4 < length) return;
      done({ status: Number(head.split(' ')[1]), body: data.subarray(headEnd + 4, headEnd + 4 + length).toString() });
    });
    socket.on('error', () => undefined);
    socket.on('close', () => done({ status: null, body: data.toString('latin1') }));
  });
}

/** Sends `body` with `headers` to 127.0.0.1:port the way the plan says. */
export async function rawRequest(port: number, path: string, headers: Record<string, string>, body: Buffer, plan: RawPlan, timeoutMs: number): Promise<RawAnswer> {
  const socket = connect(port, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  const answer = firstAnswer(socket, timeoutMs);
  let answered = false;
  void answer.then(() => (answered = true));
  const write = (b: Buffer | string) => {
    if (!answered && !socket.destroyed) socket.write(b);
  };
  const head = (extra: string[]) => `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}${extra.map((h) => `${h}\r\n`).join('')}\r\n`;

  if (plan.slowHeaders) {
    write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n`);
    for (let i = 0; !answered && !socket.destroyed && i < 1000; i++) {
      write(`X-Slow-${i}: ${i}\r\n`);
      await sleep(500);
    }
  } else if (plan.chunkedBytes !== undefined) {
    write(head(['Transfer-Encoding: chunked']));
    const piece = Buffer.alloc(1024 * 1024, 'x');
    for (let sent = 0; !answered && sent < plan.chunkedBytes; sent += piece.length) {
      write(`${piece.length.toString(16)}\r\n`);
      write(piece);
      write('\r\n');
      await sleep(1);
    }
    write('0\r\n\r\n');
  } else if (plan.alsoChunked) {
    write(head([`Content-Length: ${body.length}`, 'Transfer-Encoding: chunked']));
    write(`${body.length.toString(16)}\r\n`);
    write(body);
    write('\r\n0\r\n\r\n');
  } else if (plan.dribble) {
    write(head([`Content-Length: ${body.length}`]));
    const size = Math.ceil(body.length / plan.dribble.pieces);
    for (let at = 0; !answered && at < body.length; at += size) {
      write(body.subarray(at, at + size));
      await sleep(plan.dribble.everyMs);
    }
  } else {
    const length = plan.contentLengthText ?? String(plan.contentLength ?? (plan.cutInSecondLine ? body.indexOf(0x0a) + 10 : body.length));
    write(head([`Content-Length: ${length}`]));
    write(body);
    if (plan.then === 'close') socket.end();
  }
  return answer;
}
