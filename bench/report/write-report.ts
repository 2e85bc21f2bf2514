// Writes bench/results/report.html from the JSON results there, then renders it
// in Chromium: PNG of each chart and of the whole page.

import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildReport, chartPng, type StoredResult } from './html-report.js';
import { renderInChromium, type Rendered } from './browser.js';

/** The results of `scenarios` (in that order) found in `dir`; a scenario never run is left out. */
async function readResults(dir: string, scenarios: readonly string[]): Promise<StoredResult[]> {
  const found = await Promise.all(scenarios.map((s) => readFile(join(dir, `${s}.json`), 'utf8').then((t) => JSON.parse(t) as StoredResult, () => undefined)));
  return found.filter((r): r is StoredResult => r !== undefined);
}

export async function writeReport(dir: string, scenarios: readonly string[]): Promise<{ html: string; rendered: Rendered; results: number }> {
  const results = await readResults(dir, scenarios);
  const html = join(dir, 'report.html');
  await writeFile(html, buildReport(results, new Date()));
  const rendered = await renderInChromium(html, chartPng);
  return { html, rendered, results: results.length };
}
