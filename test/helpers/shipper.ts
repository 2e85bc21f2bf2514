// Starts the real ferry-shipper as a child process (it is a sidecar: it runs
// alone, receives signals and may be SIGKILLed).

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { atEnd } from './cleanup.js';
import { INGEST_TOKEN } from './receiver.js';
import { SHIPPER_BIN, start, type Running } from './process.js';

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

export async function startShipper(env: Record<string, string>): Promise<ShipperProcess> {
  const running = start(SHIPPER_BIN, [], env);
  const line = await running.waitForLog((l) => l.msg === 'ferry-shipper running');
  return { ...running, metricsUrl: String(line.metrics).replace(/\/metrics$/, '') };
}
