// /metrics answers without a credential, and a workspace pod can reach it.
// Rendering the receiver's registry takes about 2 ms of the event loop: one
// pod asking in a loop on 30 kept-alive connections held the receiver at 105%
// of a core, and another workspace's ingest went from 5.6 to 278 ms at the
// median (bench `connection-flood`). So renders are at most one per
// interval: requests that come meanwhile wait for the next one and share it.
// None is answered from a render that started before it arrived.

import { setTimeout as sleep } from 'node:timers/promises';

/** Resolves at `t` (performance.now()) or after: a timer, set from the event loop's cached clock, may fire a little early. */
async function until(t: number): Promise<void> {
  for (let left = t - performance.now(); left > 0; left = t - performance.now()) await sleep(left);
}

export function throttleRenders(render: () => Promise<string>, minIntervalMs: number): () => Promise<string> {
  let lastStart = -Infinity;
  let next: Promise<string> | undefined;
  return () => {
    if (next) return next;
    const shared: Promise<string> = until(lastStart + minIntervalMs).then(() => {
      next = undefined;
      lastStart = performance.now();
      return render();
    });
    next = shared;
    return shared;
  };
}
