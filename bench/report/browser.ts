// Proof that the report renders: it is opened in headless Chromium (Debian's,
// driven by playwright-core), every chart must lay out with a size, the page
// must raise no error, and what it shows is saved as PNG: the whole page and
// each chart on its own.

import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

/** Debian's package; CHROMIUM_PATH points elsewhere. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface Rendered {
  /** Charts that laid out with a width and a height. */
  charts: number;
  pageScreenshot: string;
  chartScreenshots: string[];
}

/**
 * Renders `htmlFile`; `pngOf(chartKey)` names each chart's PNG (relative to
 * the page), where chartKey is `<section id>/<data-chart>`. Throws when the
 * page errs or a chart does not render.
 */
export async function renderInChromium(htmlFile: string, pngOf: (section: string, chart: string) => string): Promise<Rendered> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    await page.goto(pathToFileURL(htmlFile).href, { waitUntil: 'load' });
    const charts = page.locator('svg.chart');
    const count = await charts.count();
    const out: string[] = [];
    for (let i = 0; i < count; i++) {
      const chart = charts.nth(i);
      const box = await chart.boundingBox();
      const section = await chart.evaluate((el) => el.closest('section')?.id ?? '');
      const id = (await chart.getAttribute('data-chart')) ?? String(i);
      if (!box || box.width < 100 || box.height < 100) throw new Error(`chart ${section}/${id} did not render (${JSON.stringify(box)})`);
      const file = join(dirname(htmlFile), pngOf(section, id));
      await mkdir(dirname(file), { recursive: true });
      await chart.screenshot({ path: file });
      out.push(file);
    }
    if (errors.length > 0) throw new Error(`the report raised errors in Chromium: ${errors.join('; ')}`);
    const pageScreenshot = htmlFile.replace(/\.html$/, '.png');
    await page.screenshot({ path: pageScreenshot, fullPage: true });
    return { charts: count, pageScreenshot, chartScreenshots: out };
  } finally {
    await browser.close();
  }
}
