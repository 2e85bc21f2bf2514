// The recording in the live page, in a real browser (Debian's chromium, driven
// by playwright-core): the real shipper uploads session.cast to a real S3
// store (s3rver), the receiver serves it, and the page plays it with
// asciinema-player's own bundle, served by the receiver. Seeking shows what
// was on the screen at that time; a growing recording shows its new lines
// without a reload; odd but valid recordings play without a console error.

import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { startS3, type S3Server } from '../../dev/embedded-s3.js';
import { PAGE_ASSETS } from '../../receiver/routes/page.js';
import { atEnd } from '../helpers/cleanup.js';
import { freshDatabase, queryPool } from '../helpers/database.js';
import { ndjson, postLines } from '../helpers/http.js';
import { READ_TOKEN, startTestReceiver } from '../helpers/receiver.js';
import { shipperDirs, shipperEnv, startShipper, type ShipperProcess } from '../helpers/shipper.js';
import { waitFor } from '../helpers/wait.js';
import { receiverS3 } from '../helpers/recording.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test-artifacts');
const START = 1763892000;

let s3: S3Server;
let base: string;
let db: pg.Pool;
let browser: Browser;
let page: Page;
/** Console errors and uncaught exceptions of the page, since it was opened. */
const problems: string[] = [];

beforeAll(async () => {
  s3 = await startS3();
  atEnd(() => s3.destroy());
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: s3.env.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: s3.env.AWS_SECRET_ACCESS_KEY });
  const url = await freshDatabase();
  base = (await startTestReceiver(url, receiverS3(s3))).url;
  db = queryPool(url);
  // A workshop under way around the workspaces played here (the screenshot shows them).
  const now = Math.floor(Date.now() / 1000);
  for (let w = 0; w < 14; w++) {
    const ws = `student-${String(w).padStart(3, '0')}`;
    await postLines(base, 'events', ndjson([{ event_type: 'connected', workshop_name: 'k8s-101', timestamp: now - 900 }, { event_type: 'step_started', step_id: ['intro', 'deploy-app', 'expose-app'][w % 3], workshop_name: 'k8s-101', timestamp: now - 600 + w }]), { workspace: ws });
    await postLines(base, 'commands', ndjson([{ command: ['kubectl get pods', 'kubectl apply -f app.yaml', 'kubectl describe svc web'][w % 3], exit_code: w % 5 === 0 ? 1 : 0, timestamp: now - 300 + w * 7 }]), { workspace: ws });
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  page = await browser.newPage({ viewport: { width: 1440, height: 760 } });
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()} (${m.location().url})`); });
  page.on('pageerror', (e) => problems.push(`exception: ${e.message}`));
}, 120_000);

afterAll(async () => {
  await browser?.close();
});

type CastEvent = [number, string, string];

/** An asciicast v2 file: the header, then [time, code, data] events. */
function cast(events: CastEvent[], width = 80, height = 24): string {
  return ndjson([{ version: 2, width, height, timestamp: START, env: { SHELL: '/bin/bash', TERM: 'xterm-256color' } }, ...events]);
}

/** A workspace the page lists (it has a status row), whose shipper uploads its session.cast. */
async function workspaceWithRecording(ws: string, recording: string, commands: string[] = []): Promise<{ shipper: ShipperProcess; castPath: string; commandLog: string }> {
  const dirs = await shipperDirs();
  await mkdir(dirs.runtimeDir, { recursive: true });
  const now = Math.floor(Date.now() / 1000);
  await writeFile(join(dirs.runtimeDir, 'state-events.jsonl'), ndjson([
    { event_type: 'connected', workshop_name: 'k8s-101', timestamp: now - 60 },
    { event_type: 'step_started', step_id: 'deploy-app', workshop_name: 'k8s-101', timestamp: now - 50 },
  ]));
  const commandLog = join(dirs.runtimeDir, 'command-log.jsonl');
  await writeFile(commandLog, ndjson(commands.map((command, i) => ({ command, exit_code: 0, timestamp: now - 40 + i }))));
  const castPath = join(dirs.runtimeDir, 'session.cast');
  await writeFile(castPath, recording);
  const shipper = await startShipper(shipperEnv(base, dirs, ws, { ...s3.shipperEnv, RECORDING_SYNC_INTERVAL_MS: '150', RECORDING_IDLE_MS: '600000' }));
  await waitForDurable(ws, castPath);
  return { shipper, castPath, commandLog };
}

async function waitForDurable(ws: string, castPath: string): Promise<void> {
  const size = (await readFile(castPath)).length;
  await waitFor(async () => Number((await db.query('SELECT last_sync_byte FROM recording_refs WHERE workspace_id = $1', [ws])).rows[0]?.last_sync_byte) === size, `${ws}: recording durable`);
}

async function open(ws: string): Promise<void> {
  if (!page.url().startsWith(base)) await page.goto(`${base}/?token=${READ_TOKEN}`);
  const row = page.locator(`tr[data-workspace="${ws}"]`);
  await row.waitFor({ timeout: 15_000 });
  await row.click();
  await page.locator('#detail-recording .ap-term').waitFor({ timeout: 15_000 });
}

/** The terminal's text, line by line, as the player shows it. */
async function screen(): Promise<string> {
  return (await page.locator('#detail-recording .ap-term-text .ap-line').allTextContents()).join('\n');
}

async function seekTo(time: string): Promise<void> {
  await page.fill('#detail-recording .recording-seek input', time);
  await page.press('#detail-recording .recording-seek input', 'Enter');
}

describe('the recording in the live page', () => {
  it('serves the player bundle and stylesheet from the receiver itself, with no token', async () => {
    for (const path of Object.keys(PAGE_ASSETS)) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type'), path).toBe(PAGE_ASSETS[path]!.type);
      const again = await fetch(`${base}${path}`, { headers: { 'if-none-match': res.headers.get('etag')! } });
      expect(again.status, path).toBe(304);
    }
    expect(await (await fetch(`${base}/player/asciinema-player.min.js`)).text()).toContain('AsciinemaPlayer');
  });

  it('plays a finished recording: seeking shows the screen recorded at that time; speed and the raw file', async () => {
    const recording = cast([
      [0.5, 'o', '$ echo alpha\r\nalpha\r\n'],
      [3.0, 'o', '$ echo bravo\r\nbravo\r\n'],
      [6.0, 'o', '$ echo charlie\r\ncharlie\r\n'],
      [9.0, 'o', '$ exit\r\n'],
    ]);
    const { shipper, castPath } = await workspaceWithRecording('play-final', recording);
    shipper.child.kill('SIGTERM');
    expect((await shipper.exited).code, shipper.output()).toBe(0);

    await open('play-final');
    expect(await page.locator('#detail-recording .recording-status').textContent()).toMatch(/^complete/);
    // It opens on the last screen.
    await expect.poll(screen).toContain('$ exit');

    await seekTo('0:04');
    await expect.poll(screen).toContain('bravo');
    expect(await screen()).not.toContain('charlie');
    await seekTo('1.5');
    await expect.poll(screen).not.toContain('bravo');
    expect(await screen()).toContain('alpha');
    await seekTo('7');
    await expect.poll(screen).toContain('charlie');
    expect(await screen()).not.toContain('$ exit');
    await seekTo('soon');
    expect(await page.locator('#detail-recording .recording-seek input.invalid').count()).toBe(1);

    // Another speed rebuilds the player where it was.
    await page.selectOption('#detail-recording select', '4');
    await expect.poll(screen).toContain('charlie');
    expect(await screen()).not.toContain('$ exit');
    await page.click('#detail-recording .ap-player');
    await expect.poll(screen, { timeout: 5_000 }).toContain('$ exit');

    const raw = page.locator('#detail-recording a[download]');
    expect(await raw.getAttribute('href')).toBe('/recordings/play-final');
    const bytes = await page.evaluate(async (href) => Array.from(new Uint8Array(await (await fetch(href)).arrayBuffer())), (await raw.getAttribute('href'))!);
    expect(Buffer.from(bytes).equals(await readFile(castPath))).toBe(true);
    expect(problems).toEqual([]);
  });

  it('follows a growing recording: new lines appear in the player without a reload', async () => {
    const prompt = '\x1b[1;32mstudent@web\x1b[0m:\x1b[1;34m~/app\x1b[0m$ ';
    const { shipper, castPath, commandLog } = await workspaceWithRecording('play-live', cast([[0.2, 'o', `${prompt}kubectl get pods\r\nNo resources found in default namespace.\r\n${prompt}`]]), ['kubectl get pods']);
    await open('play-live');
    await page.evaluate(() => { (globalThis as unknown as { loadedOnce: boolean }).loadedOnce = true; });
    expect(await page.locator('#detail-recording .recording-status').textContent()).toMatch(/^live/);
    await expect.poll(screen).toContain('No resources found in default namespace.');

    const steps = [
      ['kubectl apply -f app.yaml', 'deployment.apps/web created'],
      ['kubectl expose deployment web --port 80', 'service/web exposed'],
      ['kubectl get pods', 'NAME                   READY   STATUS    RESTARTS   AGE\r\nweb-7d4b9c8f6d-x2x9q   1/1     \x1b[32mRunning\x1b[0m   0          12s'],
    ];
    for (const [i, [command, output]] of steps.entries()) {
      await appendFile(castPath, ndjson([[1 + i, 'o', `${command}\r\n${output}\r\n${prompt}`]]));
      await appendFile(commandLog, ndjson([{ command, exit_code: 0, timestamp: Math.floor(Date.now() / 1000) }]));
      await waitForDurable('play-live', castPath);
      await expect.poll(screen, { timeout: 15_000 }).toContain(output!.split('\r\n').at(-1)!.replace(/\x1b\[\d*m/g, ''));
    }
    expect(await page.evaluate(() => (globalThis as unknown as { loadedOnce?: boolean }).loadedOnce)).toBe(true);
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'recording-player.png') });
    shipper.child.kill('SIGKILL');
    expect(problems).toEqual([]);
  });

  it('plays multibyte text, escape sequences and resize events without a console error', async () => {
    const recording = cast([
      [0.1, 'o', '\x1b[?1049h\x1b[2J\x1b[H'],
      [0.2, 'o', '\x1b[1;31mred bold\x1b[0m \x1b[38;5;82m256 green\x1b[0m \x1b[38;2;255;128;0mtrue orange\x1b[0m\r\n'],
      [0.3, 'o', '日本語のテキスト · ünïcödé · e\u0301 · 🚀🧪 · █▓▒░\r\n'],
      [0.4, 'i', 'ls\r'],
      [0.5, 'r', '120x30'],
      [0.6, 'o', '\x1b[10;5Hmoved\x1b[K\x1b[s\x1b[u\x1b]0;window title\x07\r\n'],
      [0.7, 'm', 'checkpoint'],
      [0.8, 'r', '60x15'],
      [0.9, 'o', '\x1b[?1049l' + 'x'.repeat(200) + '\r\n'],
      [1.0, 'o', '\x1b[?25lno cursor\x1b[?25h \x1b[4munder\x1b[24m \x1b[7mreverse\x1b[27m 終わり\r\n'],
    ]);
    await workspaceWithRecording('play-odd', recording);
    await open('play-odd');
    await expect.poll(screen).toContain('終わり');
    // Played through every event, from the start, at 8×.
    await page.selectOption('#detail-recording select', '8');
    await seekTo('0');
    await expect.poll(screen).not.toContain('終わり');
    await page.click('#detail-recording .ap-player');
    await expect.poll(screen, { timeout: 5_000 }).toContain('終わり');
    await seekTo('0:00.35');
    // (Block elements such as █ are drawn, not written as text.)
    await expect.poll(screen).toContain('日本語のテキスト · ünïcödé · e\u0301 · 🚀🧪 ·');
    expect(await screen()).toContain('red bold 256 green true orange');
    await seekTo('0.95');
    await expect.poll(screen).toContain('x'.repeat(60));
    // The last size is 60x15.
    expect(await page.locator('#detail-recording .ap-term-text .ap-line').count()).toBe(15);
    expect(problems).toEqual([]);
  });
});
