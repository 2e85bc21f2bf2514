// The embedded PostgreSQL starts wherever the repository was cloned, also in a
// folder only its owner may enter (/root, a `mktemp -d` folder), as root or
// not; where it cannot, one line says why and what to do instead.
//
// The clone is the least that exercises it: the compiled dev/ code,
// package.json, and a node_modules with the PostgreSQL package (its binaries
// are what the server runs) and pg. Each start runs in a process of its own,
// resolving the binaries from the clone's node_modules as `npm run demo` would.

import { execFile, spawnSync } from 'node:child_process';
import { chmod, cp, lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { PostgresUnavailable, ROOT_FOLDER, startPostgres } from '../../dev/embedded-postgres.js';
import { atEnd } from '../helpers/cleanup.js';

const exec = promisify(execFile);
const CHECKOUT = fileURLToPath(new URL('../../', import.meta.url));
const PACKAGE = `@embedded-postgres/${process.platform}-${process.arch}`;
const asRoot = process.getuid?.() === 0;

/** Starts the clone's embedded PostgreSQL, asks it a question, reports where it ran from, and destroys it. */
const PROBE = `
import { readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { startPostgres } from './dist/dev/embedded-postgres.js';

const server = await startPostgres({ fast: true, rootFolder: process.argv[2] });
try {
  const client = new pg.Client({ connectionString: server.url() });
  await client.connect();
  const { rows: [row] } = await client.query("SELECT 6 * 7 AS answer, current_setting('data_directory') AS data");
  await client.end();
  const postmaster = (await readFile(join(row.data, 'postmaster.pid'), 'utf8')).split('\\n')[0];
  const uid = Number(/^Uid:\\s+(\\d+)/m.exec(await readFile(\`/proc/\${postmaster}/status\`, 'utf8'))[1]);
  console.log(JSON.stringify({ answer: row.answer, data: row.data, binary: await readlink(\`/proc/\${postmaster}/exe\`), uid }));
} finally {
  await server.destroy();
}
`;

interface Probed {
  answer: number;
  data: string;
  binary: string;
  uid: number;
}

/** A clone in a folder of mode 0700 of its own; its path. */
async function privateClone(): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), 'ferry-private-'));
  atEnd(() => rm(folder, { recursive: true, force: true }));
  const clone = join(folder, 'ferry');
  await cp(join(CHECKOUT, 'dist/dev'), join(clone, 'dist/dev'), { recursive: true });
  await cp(join(CHECKOUT, 'package.json'), join(clone, 'package.json'));
  await writeFile(join(clone, 'probe.mjs'), PROBE);
  // Copies, not links: this checkout may itself be where other users cannot enter.
  const modules = join(CHECKOUT, 'node_modules');
  for (const name of await withDependencies(modules, 'pg')) await cp(join(modules, name), join(clone, 'node_modules', name), { recursive: true });
  // Its library links as they are, relative: what npm's postinstall left.
  await cp(join(modules, PACKAGE), join(clone, 'node_modules', PACKAGE), { recursive: true, verbatimSymlinks: true });
  return clone;
}

/** The package and those it depends on, as installed in `modules`. */
async function withDependencies(modules: string, name: string, found = new Set<string>()): Promise<Set<string>> {
  if (found.has(name)) return found;
  const manifest = await readFile(join(modules, name, 'package.json'), 'utf8').catch(() => undefined);
  // An optional dependency for another platform is not installed.
  if (manifest === undefined) return found;
  found.add(name);
  const { dependencies, optionalDependencies } = JSON.parse(manifest) as Record<string, Record<string, string> | undefined>;
  for (const dependency of Object.keys({ ...dependencies, ...optionalDependencies })) await withDependencies(modules, dependency, found);
  return found;
}

/** A folder that does not exist yet, whose parents everyone may enter: for the copy. */
async function freshRootFolder(): Promise<string> {
  const parent = await mkdtemp(join(tmpdir(), 'ferry-root-folder-'));
  await chmod(parent, 0o755);
  atEnd(() => rm(parent, { recursive: true, force: true }));
  return join(parent, 'ferry-postgres');
}

async function probe(clone: string, rootFolder: string, as: { uid?: number; gid?: number } = {}): Promise<Probed> {
  const { stdout } = await exec(process.execPath, ['probe.mjs', rootFolder], { cwd: clone, env: { PATH: process.env.PATH }, timeout: 60_000, ...as });
  return JSON.parse(stdout) as Probed;
}

async function id(flag: '-u' | '-g'): Promise<number> {
  return Number((await exec('id', [flag, 'postgres'])).stdout);
}

describe.skipIf(!asRoot)('a clone inside a folder only root may enter', () => {
  let clone: string;
  let version: string;
  beforeAll(async () => {
    clone = await privateClone();
    version = (JSON.parse(await readFile(join(clone, 'node_modules', PACKAGE, 'package.json'), 'utf8')) as { version: string }).version;
  });

  it('runs the server as the postgres user from one copy of its binaries, placed where that user can reach them once (two starting together) and reused', async () => {
    expect((await stat(join(clone, '..'))).mode & 0o777).toBe(0o700);
    const rootFolder = await freshRootFolder();
    const [a, b] = await Promise.all([probe(clone, rootFolder), probe(clone, rootFolder)]);
    const copy = join(rootFolder, `${process.platform}-${process.arch}-${version}`);
    for (const started of [a, b]) {
      expect(started.answer).toBe(42);
      expect(started.binary).toBe(join(copy, 'bin/postgres'));
      expect(started.uid).toBe(await id('-u'));
      expect(started.data.startsWith(`${rootFolder}/`)).toBe(true);
    }
    expect((await lstat(join(copy, 'lib/libicuuc.so.60'))).isSymbolicLink()).toBe(true);
    expect((await stat(rootFolder)).mode & 0o777).toBe(0o755);
    // The data folders went with their servers, and the loser's copy with its rename.
    expect(await readdir(rootFolder)).toEqual([`${process.platform}-${process.arch}-${version}`]);

    const made = await stat(copy);
    expect((await probe(clone, rootFolder)).binary).toBe(join(copy, 'bin/postgres'));
    expect((await stat(copy)).ino).toBe(made.ino);
  });

  it('as any other user, runs the clone\'s own binaries and places nothing', async () => {
    const [uid, gid] = [await id('-u'), await id('-g')];
    await exec('chown', ['-R', `${uid}:${gid}`, join(clone, '..')]);
    const rootFolder = await freshRootFolder();
    const started = await probe(clone, rootFolder, { uid, gid });
    expect(started.answer).toBe(42);
    expect(started.binary).toBe(join(clone, 'node_modules', PACKAGE, 'native/bin/postgres'));
    await expect(stat(rootFolder)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a folder for the binaries that others could write, in one line', async () => {
    const rootFolder = await freshRootFolder();
    await mkdir(rootFolder);
    await chmod(rootFolder, 0o777);
    const refused = await startPostgres({ fast: true, rootFolder }).then(() => undefined, (error: unknown) => error);
    expect(refused).toBeInstanceOf(PostgresUnavailable);
    expect((refused as Error).message).toContain(`${rootFolder} is not a folder that only root can write (owner uid 0, mode 777)`);
    expect((refused as Error).message).not.toContain('\n');
  });
});

// A private mount namespace makes /var/tmp read-only for one process only.
const canRemount = asRoot && spawnSync('unshare', ['-m', 'mount', '-o', 'bind,ro', '/var/tmp', '/var/tmp']).status === 0;

describe.skipIf(!canRemount)(`where ${ROOT_FOLDER} is on a read-only file system`, () => {
  it('the demo stops with one line that says why and names DATABASE_URL', async () => {
    const demo = join(CHECKOUT, 'dist/dev/demo.js');
    const failed = await exec('unshare', ['-m', 'sh', '-c', 'mount -o bind,ro /var/tmp /var/tmp && exec "$0" "$1"', process.execPath, demo], { env: { PATH: process.env.PATH }, timeout: 20_000 })
      .then(() => undefined, (error: { code: number; stderr: string }) => error);
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toMatch(/^The embedded PostgreSQL cannot start: .*read-only file system.*\. Set DATABASE_URL to a database on an existing PostgreSQL to run the demo on it\.\n$/);
  });
});
