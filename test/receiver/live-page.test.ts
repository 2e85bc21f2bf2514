// The live page in a real browser (Debian's chromium, driven by playwright-core):
// lines the real shipper writes appear without a reload, for a page of 100+
// workspaces. A screenshot is left in test-artifacts/.

import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase } from '../helpers/database.js';
import { ndjson, postLines } from '../helpers/http.js';
import { READ_TOKEN, startTestReceiver } from '../helpers/receiver.js';
import { shipperDirs, shipperEnv, startShipper } from '../helpers/shipper.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test-artifacts');
const T0 = Math.floor(Date.now() / 1000) - 600;

let base: string;
let browser: Browser;
let page: Page;
/** Console errors and uncaught exceptions of the page (one with the token). */
const problems: string[] = [];

beforeAll(async () => {
  base = (await startTestReceiver(await freshDatabase())).url;
  // A workshop of 120 workspaces already under way.
  for (let w = 0; w < 120; w++) {
    const ws = `student-${String(w).padStart(3, '0')}`;
    await postLines(base, 'events', ndjson([{ event_type: 'connected', workshop_name: 'k8s-101', timestamp: T0 }, { event_type: 'step_started', step_id: `step-${w % 6}`, workshop_name: 'k8s-101', timestamp: T0 + 1 }]), { workspace: ws });
    await postLines(base, 'commands', ndjson([{ command: `kubectl get pods -n ns-${w}`, exit_code: w % 7 === 0 ? 1 : 0, timestamp: T0 + 2 }]), { workspace: ws });
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()} (${m.location().url})`); });
  page.on('pageerror', (e) => problems.push(`exception: ${e.message}`));
  await page.goto(`${base}/?token=${READ_TOKEN}`);
  await page.evaluate(() => { (globalThis as unknown as { loadedOnce: boolean }).loadedOnce = true; });
}, 120_000);

afterAll(async () => {
  await browser?.close();
});

const row = (ws: string) => page.locator(`tr[data-workspace="${ws}"]`);

describe('the live page', () => {
  it('lists every workspace with its step, connected state and last command; the token left the address bar', async () => {
    await expect.poll(() => page.locator('#rows tr').count(), { timeout: 15_000 }).toBe(120);
    expect(page.url()).toBe(`${base}/`);
    await expect.poll(() => row('student-007').locator('td.command').textContent()).toBe('kubectl get pods -n ns-7');
    expect(await row('student-007').locator('td.step').textContent()).toBe('step-1');
    expect(await row('student-007').locator('td.command').getAttribute('class')).toContain('failed');
    expect(await row('student-008').locator('.dot.on').count()).toBe(1);
    expect(await page.locator('#count').textContent()).toBe('120 workspaces · 120 connected');
  });

  it('shows what the real shipper ships, as it ships it, without a reload', async () => {
    const dirs = await shipperDirs();
    await mkdir(dirs.runtimeDir, { recursive: true });
    const now = () => Math.floor(Date.now() / 1000);
    await appendFile(join(dirs.runtimeDir, 'state-events.jsonl'), ndjson([{ event_type: 'connected', workshop_name: 'k8s-101', timestamp: now() }, { event_type: 'step_started', step_id: 'deploy-app', workshop_name: 'k8s-101', timestamp: now() }]));
    await startShipper(shipperEnv(base, dirs, 'student-new'));
    await expect.poll(() => row('student-new').locator('td.step').textContent(), { timeout: 15_000 }).toBe('deploy-app');

    await appendFile(join(dirs.runtimeDir, 'command-log.jsonl'), ndjson([{ command: 'kubectl apply -f app.yaml', exit_code: 0, timestamp: now() }]));
    await expect.poll(() => row('student-new').locator('td.command').textContent(), { timeout: 15_000 }).toBe('kubectl apply -f app.yaml');
    await appendFile(join(dirs.runtimeDir, 'state-events.jsonl'), ndjson([{ event_type: 'step_completed', step_id: 'deploy-app', workshop_name: 'k8s-101', timestamp: now() }, { event_type: 'step_started', step_id: 'expose-app', workshop_name: 'k8s-101', timestamp: now() }]));
    await expect.poll(() => row('student-new').locator('td.step').textContent(), { timeout: 15_000 }).toBe('expose-app');
    expect(await row('student-new').locator('td.done').textContent()).toBe('1');
    expect(await page.locator('#state').textContent()).toBe('live');
    expect(await page.evaluate(() => (globalThis as unknown as { loadedOnce?: boolean }).loadedOnce)).toBe(true);
    // Sorted in among the others.
    const ids = await page.locator('#rows tr').evaluateAll((trs) => trs.map((tr) => (tr as unknown as { dataset: Record<string, string> }).dataset.workspace));
    expect(ids).toEqual([...ids].sort());
  });

  it('narrows the list with the filter box, and a click shows one workspace', async () => {
    await page.fill('#filter', 'ns-42');
    await expect.poll(() => page.locator('#rows tr:visible').count()).toBe(1);
    await page.fill('#filter', '');
    await row('student-new').click();
    await expect.poll(() => page.locator('#detail').textContent(), { timeout: 10_000 }).toContain('kubectl apply -f app.yaml');
    const detail = await page.locator('#detail').textContent();
    expect(detail).toContain('step_started expose-app');
    expect(detail).toContain('step_completed deploy-app');
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'live-page.png'), fullPage: false });
    // A workspace without a recording (on a receiver without a bucket) is not asked for one.
    expect(await page.locator('#detail .recording-status').textContent()).toBe('no recording yet');
    expect(problems).toEqual([]);
  });

  it('without the token it asks for it', async () => {
    const anonymous = await browser.newPage();
    await anonymous.goto(`${base}/`);
    await expect.poll(() => anonymous.locator('#login').isVisible(), { timeout: 10_000 }).toBe(true);
    await anonymous.fill('#token', READ_TOKEN);
    await anonymous.click('#login button');
    await expect.poll(() => anonymous.locator('#rows tr').count(), { timeout: 15_000 }).toBeGreaterThan(100);
    await anonymous.close();
  });
});
