// /metrics is rendered at most once per interval however often it is asked
// for (a workspace pod can reach it), and no answer is older than its request.

import { describe, expect, it } from 'vitest';
import { throttleRenders } from '../../receiver/limits/render-rate.js';

function counted(): { renders: () => number; starts: number[]; state: { value: number }; render: () => Promise<string> } {
  const starts: number[] = [];
  const state = { value: 0 };
  return { renders: () => starts.length, starts, state, render: async () => (starts.push(performance.now()), String(state.value)) };
}

describe('renders of /metrics', () => {
  it('are shared by the requests that come together', async () => {
    const page = counted();
    const metrics = throttleRenders(page.render, 100);
    const answers = await Promise.all(Array.from({ length: 50 }, () => metrics()));
    expect(new Set(answers)).toEqual(new Set(['0']));
    expect(page.renders()).toBe(1);
  });

  it('come at most once per interval to a client asking in a loop', async () => {
    const page = counted();
    const metrics = throttleRenders(page.render, 50);
    const started = performance.now();
    let asked = 0;
    while (performance.now() - started < 500) {
      await metrics();
      asked++;
    }
    expect(asked).toBe(page.renders());
    expect(page.renders()).toBeGreaterThanOrEqual(8);
    const gaps = page.starts.slice(1).map((t, i) => t - page.starts[i]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(50);
  });

  it('never answer with a render older than the request', async () => {
    const page = counted();
    const metrics = throttleRenders(page.render, 100);
    expect(await metrics()).toBe('0');
    page.state.value = 1;
    expect(await metrics()).toBe('1');
    page.state.value = 2;
    const [a, b] = await Promise.all([metrics(), (page.state.value = 3, metrics())]);
    expect([a, b]).toEqual(['3', '3']);
  });
});
