// Writes bench/results/report.html from the JSON results there, then renders it
// in Chromium: PNG of each chart and of the whole page.

import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildReport, chartPng, type StoredResult } from './html-report.js';
import { renderInChromium, type Rendered } from './browser.js';

/** The results of `scenarios` (in that order, each with its labelled runs after it) found in `dir`. */
async function readResults(dir: string, scenarios: readonly string[]): Promise<StoredResult[]> {
  const files = await readdir(dir);
  const names = scenarios.flatMap((s) => [`${s}.json`, ...files.filter((f) => f.startsWith(`${s}@`) && f.endsWith('.json')).sort()]).filter((f) => files.includes(f));
  return Promise.all(names.map(async (f) => JSON.parse(await readFile(join(dir, f), 'utf8')) as StoredResult));
}

export async function writeReport(dir: string, scenarios: readonly string[]): Promise<{ html: string; rendered: Rendered; results: number }> {
  const results = await readResults(dir, scenarios);
  const html = join(dir, 'report.html');
  await writeFile(html, buildReport(results, new Date()));
  // Charts of runs no longer here must not linger beside the report.
  await rm(join(dir, 'charts'), { recursive: true, force: true });
  const rendered = await renderInChromium(html, chartPng);
  return { html, rendered, results: results.length };
}
