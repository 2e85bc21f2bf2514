// Everything a test file starts (processes, servers, folders) is stopped or
// removed when the file's tests end, wherever in the file it was started.

import { afterAll } from 'vitest';

const tasks: Array<() => unknown> = [];

/** Runs `task` when this test file's tests are over (last registered, first run). */
export function atEnd(task: () => unknown): void {
  tasks.push(task);
}

afterAll(async () => {
  while (tasks.length > 0) await tasks.pop()!();
});
