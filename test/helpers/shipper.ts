// Starts the real ferry-shipper as a child process (it is a sidecar: it runs
// alone, receives signals and may be SIGKILLed).

import { execFile } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { atEnd } from './cleanup.js';
import { INGEST_TOKEN } from './receiver.js';
import { SHIPPER_BIN, start, type RunAs, type Running } from './process.js';

const exec = promisify(execFile);

export interface ShipperDirs {
  runtimeDir: string;
  stateDir: string;
}

/** Fresh runtime and state folders, removed when the file's tests end. */
export async function shipperDirs(): Promise<ShipperDirs> {
  const root = await mkdtemp(join(tmpdir(), 'ferry-shipper-test-'));
  atEnd(() => rm(root, { recursive: true, force: true }));
  return { runtimeDir: join(root, 'runtime'), stateDir: join(root, 'state') };
}

export function shipperEnv(receiverUrl: string, dirs: ShipperDirs, workspace: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    WORKSPACE_ID: workspace,
    DASHBOARD_SERVICE_URL: receiverUrl,
    INGEST_TOKEN,
    RUNTIME_DIR: dirs.runtimeDir,
    STATE_DIR: dirs.stateDir,
    METRICS_HOST: '127.0.0.1',
    METRICS_PORT: '0',
    POLL_INTERVAL_MS: '50',
    RETRY_MAX_DELAY_MS: '500',
    LOG_LEVEL: 'info',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...extra,
  };
}

export interface ShipperProcess extends Running {
  metricsUrl: string;
}

/**
 * When the tests run as root: `nobody`, with the folders made reachable by it
 * (mkdtemp's are 0700) and the state folder its own. Undefined otherwise: the
 * tests' own user cannot read a file without read permission either.
 */
export async function unprivileged(dirs: ShipperDirs): Promise<RunAs | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const [uid, gid] = await Promise.all([exec('id', ['-u', 'nobody']), exec('id', ['-g', 'nobody'])]);
  const as = { uid: Number(uid.stdout), gid: Number(gid.stdout) };
  await chmod(join(dirs.runtimeDir, '..'), 0o755);
  await mkdir(dirs.runtimeDir, { recursive: true, mode: 0o755 });
  await mkdir(dirs.stateDir, { recursive: true });
  await chown(dirs.stateDir, as.uid, as.gid);
  return as;
}

export async function startShipper(env: Record<string, string>, as?: RunAs): Promise<ShipperProcess> {
  const running = start(SHIPPER_BIN, [], env, as);
  const line = await running.waitForLog((l) => l.msg === 'ferry-shipper running');
  return { ...running, metricsUrl: String(line.metrics).replace(/\/metrics$/, '') };
}
