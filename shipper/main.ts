#!/usr/bin/env node
// ferry-shipper: command line.

import { access, constants, mkdir } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { ConfigError, helpText, loadConfig, portError } from '../shared/env.js';
import { createLog } from './json-log.js';
import { batchSettings, loadShipperConfig, SHIPPER_SPEC, type ShipperConfig } from './config.js';
import { startShipper } from './shipper.js';

const USAGE = `Usage: ferry-shipper [--help | --version]
       ferry-shipper from-vector <vector.toml>

Tails the workspace's runtime files and ships them to ferry-receiver: each
complete line exactly once, from byte-offset checkpoints, with retries. On
SIGTERM or SIGINT it ships everything there is, then exits 0 (non-zero when the
drain deadline passes first).

from-vector reads the Vector sidecar's config and prints ferry-shipper's pod
spec (its environment, volumes and sidecar form), what ferry does not need, and
what it could not translate, with the reason. Exit code 0 when everything
translated, 1 when something did not, 2 when the file cannot be read or parsed.

Per-pipeline batch limits: <NAME>_BATCH_MAX_EVENTS and <NAME>_BATCH_MAX_BYTES,
NAME being the pipeline's name in upper case (COMMANDS, EVENTS, LLM by default).`;

function fail(message: string): never {
  process.stderr.write(`ferry-shipper: ${message}\n`);
  process.exit(2);
}

async function config(): Promise<ShipperConfig> {
  let c: ShipperConfig;
  try {
    c = loadShipperConfig((spec) => loadConfig(spec));
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  try {
    await mkdir(c.stateDir, { recursive: true });
    await access(c.stateDir, constants.W_OK);
  } catch (err) {
    fail(new ConfigError('STATE_DIR', 'a folder the shipper can write', `${c.stateDir} (${(err as NodeJS.ErrnoException).code})`).message);
  }
  return c;
}

const arg = process.argv[2];
if (arg === '--help' || arg === '-h') {
  const perPipeline = Object.fromEntries(
    (SHIPPER_SPEC.pipelines.fallback!.value).flatMap((p) => Object.entries(batchSettings(p)).map(([k, s]) => [`${p.name}.${k}`, s])),
  );
  process.stdout.write(helpText(USAGE, { ...SHIPPER_SPEC, ...perPipeline }));
  process.exit(0);
}
if (arg === '--version') {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  process.stdout.write(`${pkg.version}\n`);
  process.exit(0);
}
if (arg === 'from-vector') {
  // Loaded only here: the sidecar itself never parses TOML.
  const { fromVector } = await import('./from-vector/command.js');
  const code = await fromVector(process.argv[3], (s) => process.stdout.write(s), (s) => process.stderr.write(s));
  // Everything written before the exit (stdout may be a pipe).
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  process.exit(code);
}
if (arg !== undefined) fail(`unknown argument ${JSON.stringify(arg)}\n${USAGE}`);

const c = await config();
const log = createLog('ferry-shipper', c.logLevel);
// Signals are handled from the first moment, startup included.
const starting = startShipper(c, log);
let signals = 0;
const onSignal = (signal: string) => {
  signals++;
  if (signals > 1) {
    log.warn({ signal }, 'second signal: exiting now');
    process.exit(1);
  }
  starting.then((shipper) => shipper.drain(c.drainTimeoutMs, signal)).then((complete) => {
    if (complete) log.info('drained: everything shipped');
    else log.error({ deadline_ms: c.drainTimeoutMs }, 'drain ended with data left: checkpoints written (it ships on the next start, if the files remain)');
    process.exit(complete ? 0 : 1);
  }, (err) => {
    log.error({ err: (err as Error).message }, 'drain failed');
    process.exit(1);
  });
};
process.on('SIGTERM', () => onSignal('SIGTERM'));
process.on('SIGINT', () => onSignal('SIGINT'));
const shipper = await starting.catch((err: NodeJS.ErrnoException) => {
  if (err instanceof ConfigError) fail(err.message);
  const unusable = portError(err, 'METRICS_PORT', c.metricsPort);
  if (unusable) fail(unusable.message);
  throw err;
});
log.info({ metrics: `${shipper.metricsUrl}/metrics`, receiver: c.receiverUrl, workspace_id: c.workspaceId }, 'ferry-shipper running');
if (c.tlsCaFile && new URL(c.receiverUrl).protocol === 'http:') log.warn({ receiver: c.receiverUrl }, 'TLS_CA_FILE is set but DASHBOARD_SERVICE_URL is http://: requests and the token travel unencrypted');
