#!/usr/bin/env node
// ferry-receiver: command line.

import { readFileSync } from 'node:fs';
import { ConfigError, helpText, loadConfig, portError } from '../shared/env.js';
import { openCredential } from '../shared/credential.js';
import { createLogger } from './log.js';
import { isValidId } from '../shared/wire.js';
import { mintWorkspaceToken } from './auth.js';
import { checkReceiverConfig, RECEIVER_SPEC, type ReceiverConfig } from './config.js';
import { startReceiver } from './receiver.js';

const USAGE = `Usage: ferry-receiver [command]

Commands:
  serve                      run the ingest service (default)
  migrate                    apply database migrations, create the partitions ahead, and exit
  mint-token <workspace-id>  print a per-workspace ingest token (needs INGEST_TOKEN_SECRET)
  --help, --version`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function fail(message: string): never {
  process.stderr.write(`ferry-receiver: ${message}\n`);
  process.exit(2);
}

/** Loads settings; a bad one ends the program with its one-line message. */
function configured<T>(load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
}

function config(): ReceiverConfig {
  return configured(() => checkReceiverConfig(loadConfig(RECEIVER_SPEC)));
}

async function serve(): Promise<void> {
  const c = config();
  const log = createLogger('ferry-receiver', c.logLevel);
  // Signals are handled from the first moment, startup included.
  const starting = startReceiver(c, log);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: finishing in-flight requests');
    const deadline = setTimeout(() => {
      log.error({ timeout_ms: c.shutdownTimeoutMs }, 'shutdown deadline passed; exiting with requests still open');
      process.exit(1);
    }, c.shutdownTimeoutMs);
    deadline.unref();
    starting.then((receiver) => receiver.stop()).then(() => process.exit(0), (err) => {
      log.error({ err: (err as Error).message }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  const receiver = await starting.catch((err: NodeJS.ErrnoException) => {
    if (err instanceof ConfigError) fail(err.message);
    const unusable = portError(err, 'PORT', c.port);
    if (unusable) fail(unusable.message);
    throw err;
  });
  receiver.ready.catch((err) => {
    log.fatal({ err: (err as Error).message }, 'migrations failed');
    process.exit(1);
  });
}

async function migrateOnly(): Promise<void> {
  const c = config();
  const log = createLogger('ferry-receiver', c.logLevel);
  const { createPool } = await import('./db/pool.js');
  const { migrate } = await import('./db/migrate.js');
  const { ensurePartitions, partitionPolicy } = await import('./db/partitions.js');
  const pool = createPool(c.databaseUrl, 1, log);
  try {
    log.info({ applied: await migrate(pool) }, 'migrations done');
    const { created } = await ensurePartitions(pool, partitionPolicy(c), Date.now());
    log.info({ created: created.map((p) => p.name) }, 'partitions created ahead');
  } finally {
    await pool.end();
  }
}

/** Signs with the current INGEST_TOKEN_SECRET (or the file INGEST_TOKEN_SECRET_FILE names): during a rotation, the new one. */
async function mintToken(workspaceId: string | undefined): Promise<void> {
  if (!workspaceId || !isValidId(workspaceId)) fail('mint-token needs a workspace id (1-253 printable characters): ferry-receiver mint-token <workspace-id>');
  const { secret } = configured(() => loadConfig({ secret: RECEIVER_SPEC.ingestTokenSecret }));
  if (!secret.current) fail(new ConfigError('INGEST_TOKEN_SECRET', 'the secret the receiver verifies workspace tokens with', undefined).message);
  const quiet = { onCredentialChanged: () => {}, onCredentialInvalid: () => {} };
  const live = await openCredential(secret, quiet, true).catch((err: unknown) => {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  });
  process.stdout.write(`${mintWorkspaceToken(live.current()!, workspaceId)}\n`);
}

const [command = 'serve', ...args] = process.argv.slice(2);
switch (command) {
  case '--help': case '-h': case 'help':
    process.stdout.write(helpText(USAGE, RECEIVER_SPEC));
    break;
  case '--version':
    process.stdout.write(`${version()}\n`);
    break;
  case 'serve':
    await serve();
    break;
  case 'migrate':
    await migrateOnly();
    break;
  case 'mint-token':
    await mintToken(args[0]);
    break;
  default:
    fail(`unknown command ${JSON.stringify(command)}\n${USAGE}`);
}
