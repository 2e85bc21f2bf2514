// The image, without a Docker engine: the Dockerfile lints clean, stays on
// Node 24 LTS and non-root, its build context (.dockerignore, an allow-list)
// holds exactly what it copies, and that context alone compiles into every
// program the manifests run.

import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { validate, ValidationSeverity, type ValidatorSettings } from 'dockerfile-utils';
import { beforeAll, describe, expect, it } from 'vitest';
import { RECEIVER_NODE_FLAGS, SHIPPER_NODE_FLAGS } from '../../bench/lib/programs.js';
import { PAGE_ASSETS } from '../../receiver/routes/page.js';
import { atEnd } from '../helpers/cleanup.js';
import { allContainers, podSpec } from './lib/pod.js';
import { render } from './lib/render.js';

const exec = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOCKERFILE = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

interface Instruction {
  keyword: string;
  args: string[];
  flags: Record<string, string>;
}

/** The Dockerfile's instructions (continuation lines joined, comments dropped). */
function instructions(text: string): Instruction[] {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  return lines.map((line) => {
    const [keyword, ...words] = line.split(/\s+/);
    const flags = Object.fromEntries(words.filter((w) => w.startsWith('--')).map((w) => w.slice(2).split('=') as [string, string]));
    return { keyword: keyword!.toUpperCase(), args: words.filter((w) => !w.startsWith('--')), flags };
  });
}

const ALL = instructions(DOCKERFILE);
const stages = ALL.reduce<Instruction[][]>((acc, i) => (i.keyword === 'FROM' ? [...acc, [i]] : (acc.at(-1)!.push(i), acc)), []);
const finalStage = stages.at(-1)!;

/** The image's CMD, as an exec-form argument list. */
function imageCmd(): string[] {
  return JSON.parse(finalStage.find((i) => i.keyword === 'CMD')!.args.join(' ')) as string[];
}

/** The script a `node [flags] script [args]` command runs. */
function program(command: string[]): string {
  return command.slice(1).find((a) => !a.startsWith('-'))!;
}

/** The flags a `node [flags] script [args]` command gives Node. */
function nodeFlags(command: string[]): string[] {
  return command.slice(1, command.indexOf(program(command)));
}
/** COPY sources taken from the build context (not from another stage). */
const contextSources = [...new Set(ALL.filter((i) => i.keyword === 'COPY' && !i.flags.from).flatMap((i) => i.args.slice(0, -1)))];

/** .dockerignore as an allow-list: `*`, then `!path` entries, then exclusions of file endings. */
function dockerignore(): { allowed: string[]; excludedEndings: string[] } {
  const lines = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  expect(lines[0]).toBe('*');
  const allowed = lines.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
  const excluded = lines.slice(1).filter((l) => !l.startsWith('!'));
  for (const pattern of excluded) expect(pattern, 'only **/*.<ending> exclusions are understood here').toMatch(/^\*\*\/\*\.\w+$/);
  return { allowed, excludedEndings: excluded.map((p) => p.slice(3)) };
}

describe('Dockerfile', () => {
  it('lints clean, with every optional check of dockerfile-utils turned into an error', () => {
    const keys: Array<keyof ValidatorSettings> = ['deprecatedMaintainer', 'directiveCasing', 'emptyContinuationLine', 'instructionCasing',
      'instructionCmdMultiple', 'instructionEntrypointMultiple', 'instructionHealthcheckMultiple', 'instructionJSONInSingleQuotes', 'instructionWorkdirRelative'];
    const strict = Object.fromEntries(keys.map((k) => [k, ValidationSeverity.ERROR])) as ValidatorSettings;
    expect(validate(DOCKERFILE, strict).map((d) => `line ${d.range.start.line + 1}: ${d.message}`)).toEqual([]);
  });

  it('builds in stages on Node 24 LTS slim, and the final stage runs as a numeric non-root user', () => {
    expect(stages.length).toBeGreaterThan(1);
    for (const [from] of stages) expect(from!.args[0]).toMatch(/^node:24-[a-z]+-slim$/);
    const user = finalStage.filter((i) => i.keyword === 'USER').at(-1)?.args[0];
    expect(user).toMatch(/^[1-9]\d*:[1-9]\d*$/);
  });

  it('has a build context of exactly what it copies, and all of it exists', () => {
    const { allowed } = dockerignore();
    expect([...allowed].sort()).toEqual(contextSources.map((s) => s.replace(/^\.\//, '').replace(/\/$/, '')).sort());
    for (const source of contextSources) expect(existsSync(join(ROOT, source)), source).toBe(true);
  });
});

describe('the build context alone', () => {
  let built: string;

  beforeAll(async () => {
    built = await mkdtemp(join(tmpdir(), 'ferry-image-'));
    atEnd(() => rm(built, { recursive: true, force: true }));
    const { allowed, excludedEndings } = dockerignore();
    for (const path of allowed) {
      await cp(join(ROOT, path), join(built, path), { recursive: true, filter: (src) => !excludedEndings.some((e) => src.endsWith(e)) });
    }
    // What `npm ci` installs in the build stage.
    await symlink(join(ROOT, 'node_modules'), join(built, 'node_modules'));
    const build = ALL.find((i) => i.keyword === 'RUN' && i.args.join(' ') === 'npm run build');
    expect(build, 'the build stage runs `npm run build`').toBeDefined();
    await exec('npm', ['run', 'build'], { cwd: built });
  }, 180_000);

  it('compiles everything the final stage copies from the build stage', () => {
    const fromBuild = finalStage.filter((i) => i.keyword === 'COPY' && i.flags.from === 'build').map((i) => i.args[0]!);
    expect(fromBuild.length).toBeGreaterThan(0);
    for (const path of fromBuild) expect(existsSync(join(built, path.replace(/^\/src\//, ''))), path).toBe(true);
    expect(existsSync(join(built, 'dist/receiver/db/migrations/001_seed_schema.sql'))).toBe(true);
  });

  it('imports nothing at run time beyond Node and the production dependencies (npm ci --omit=dev)', async () => {
    const { dependencies } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const copied = finalStage.filter((i) => i.keyword === 'COPY' && i.flags.from === 'build').map((i) => join(built, i.args[0]!.replace(/^\/src\//, '')));
    const { stdout } = await exec('grep', ['-rhoE', `(from|import\\() ?['"][^./'"][^'"]*['"]`, '--include=*.js', ...copied]);
    const packages = new Set(stdout.split('\n').filter(Boolean).map((l) => /['"]([^'"]+)['"]/.exec(l)![1]!)
      .filter((p) => !p.startsWith('node:')).map((p) => p.split('/').slice(0, p.startsWith('@') ? 2 : 1).join('/')));
    expect(packages.size).toBeGreaterThan(0);
    expect([...packages].filter((p) => !(p in dependencies))).toEqual([]);
  });

  it('holds every file the live page loads: its own under dist/, the player from a production dependency', async () => {
    const { dependencies } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    for (const [path, { file }] of Object.entries(PAGE_ASSETS)) {
      const source = relative(ROOT, fileURLToPath(file));
      const vendored = /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(source);
      if (vendored) expect(dependencies, path).toHaveProperty([vendored[1]!]);
      else expect(existsSync(join(built, 'dist', source)), path).toBe(true);
    }
  });

  it('holds every program the manifests run from the image', async () => {
    const objects = (await Promise.all(['workspace/native', 'workspace/classic', 'receiver'].map(render))).flat();
    const programs = new Set<string>();
    for (const o of objects.filter((o) => ['Pod', 'Deployment'].includes(o.kind))) {
      for (const c of allContainers(podSpec(o)).filter((c) => c.image.startsWith('ferry:'))) {
        for (const command of [c.command, c.lifecycle?.preStop?.exec?.command]) if (command?.[0] === 'node') programs.add(program(command));
      }
    }
    programs.add(program(imageCmd()));
    expect([...programs].sort()).toEqual(['/app/dist/receiver/main.js', '/app/dist/shipper/main.js', '/app/dist/shipper/prestop.js']);
    const workdir = finalStage.find((i) => i.keyword === 'WORKDIR')!.args[0]!;
    for (const program of programs) expect(existsSync(join(built, program.slice(workdir.length + 1))), program).toBe(true);
    // Both programs read their version from the package.json beside dist/.
    expect(finalStage.some((i) => i.keyword === 'COPY' && !i.flags.from && i.args[0] === 'package.json')).toBe(true);
  });
});

it('runs the receiver with the same Node flags in the image, the Deployment and the benchmarks', async () => {
  const [deployment] = (await render('receiver')).filter((o) => o.kind === 'Deployment');
  const receiver = allContainers(podSpec(deployment!)).find((c) => c.name === 'ferry-receiver')!;
  expect(program(receiver.command!)).toBe('/app/dist/receiver/main.js');
  expect(nodeFlags(receiver.command!)).toEqual(RECEIVER_NODE_FLAGS);
  expect(nodeFlags(imageCmd())).toEqual(RECEIVER_NODE_FLAGS);
});

it('runs the shipper with the same Node flags in the workspace pods and the benchmarks', async () => {
  for (const variant of ['workspace/classic', 'workspace/native']) {
    const [pod] = (await render(variant)).filter((o) => o.kind === 'Pod');
    const shipper = allContainers(podSpec(pod!)).find((c) => c.name === 'ferry-shipper')!;
    expect(program(shipper.command!)).toBe('/app/dist/shipper/main.js');
    expect(nodeFlags(shipper.command!), variant).toEqual(SHIPPER_NODE_FLAGS);
  }
});
