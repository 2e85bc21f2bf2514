// npm run demo: the receiver on an embedded PostgreSQL, with a token, and how
// to post a line to it. Ctrl-C stops everything.

import { randomBytes } from 'node:crypto';
import { loadConfig } from '../shared/env.js';
import { createLogger } from '../shared/log.js';
import { RECEIVER_SPEC } from '../receiver/config.js';
import { startReceiver } from '../receiver/receiver.js';
import { startPostgres } from './embedded-postgres.js';

const say = (text: string) => process.stdout.write(`${text}\n`);

say('ferry demo: starting an embedded PostgreSQL ...');
const pg = await startPostgres();
const databaseUrl = await pg.createDatabase('ferry');
const token = randomBytes(12).toString('hex');
const config = loadConfig(RECEIVER_SPEC, { DATABASE_URL: databaseUrl, INGEST_TOKEN: token, HOST: '127.0.0.1', PORT: process.env.PORT ?? '8080', LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' });
const receiver = await startReceiver(config, createLogger('ferry-receiver', config.logLevel));
await receiver.ready;

say(`
receiver:   ${receiver.url}   (metrics: ${receiver.url}/metrics)
database:   ${databaseUrl}
token:      ${token}

Post a line:
  printf '{"command":"kubectl get pods","exit_code":0,"timestamp":"%s"}\\n' "$(date -u +%FT%TZ)" |
    curl -sS ${receiver.url}/ingest/commands -H 'Authorization: Bearer ${token}' \\
      -H 'Content-Type: application/x-ndjson' -H 'X-Workspace-Id: demo' -H 'X-Source-Id: demo-1' \\
      -H 'X-Source-Offset: 0' --data-binary @-

Look at it:
  psql '${databaseUrl}' -c 'SELECT * FROM command_log'

Ctrl-C stops the receiver and the database.`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  say('\nstopping ...');
  await receiver.stop();
  await pg.destroy();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
