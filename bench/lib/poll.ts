// Waiting on a condition measured from outside (rows committed, a counter),
// with a deadline and a check that the system under test still runs.

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface PollOptions {
  everyMs: number;
  timeoutS: number;
  /** Fails the wait at once when the system under test has stopped. */
  alive?: () => boolean;
  what: string;
}

/** Polls `probe` until it returns a value other than undefined. */
export async function until<T>(probe: () => Promise<T | undefined>, o: PollOptions): Promise<T> {
  const started = performance.now();
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (o.alive && !o.alive()) throw new Error(`${o.what}: the system under test stopped`);
    if (performance.now() - started > o.timeoutS * 1000) throw new Error(`${o.what}: not done after ${o.timeoutS} s`);
    await sleep(o.everyMs);
  }
}

/** Calls `tick` every `everyMs` until stopped; a tick never overlaps the next. */
export function every(everyMs: number, tick: () => Promise<void> | void): { stop(): Promise<void> } {
  let running = true;
  const loop = (async () => {
    while (running) {
      await tick();
      await sleep(everyMs);
    }
  })();
  return { stop: async () => { running = false; await loop; } };
}
