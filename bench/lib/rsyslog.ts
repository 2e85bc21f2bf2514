// The peer: rsyslog's imfile → mmjsonparse → ompgsql, from Debian's packages,
// run as its own daemon with its own config, pid file and work directory.
// One INSERT per line (ompgsql's way), batched in transactions by its queue.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const RSYSLOGD = '/usr/sbin/rsyslogd';

export interface RsyslogOptions {
  workDir: string;
  /** The JSONL file of command events to tail. */
  file: string;
  databaseUrl: string;
  workspaceId: string;
}

export interface Rsyslog {
  child: ChildProcess;
  stop(): Promise<void>;
}

function config(o: RsyslogOptions, stateDir: string): string {
  const ws = o.workspaceId.replaceAll("'", "''");
  return `
global(workDirectory="${stateDir}" maxMessageSize="64k")
module(load="imfile" mode="inotify")
module(load="mmjsonparse")
module(load="ompgsql")

template(name="ferry_command" type="list" option.stdsql="on") {
  constant(value="INSERT INTO command_log (workspace_id, command, exit_code, timestamp) VALUES ('${ws}', '")
  property(name="$!command")
  constant(value="', ")
  property(name="$!exit_code")
  constant(value=", '")
  property(name="$!timestamp")
  constant(value="')")
}

ruleset(name="commands" queue.type="LinkedList" queue.size="500000" queue.dequeueBatchSize="1024") {
  action(type="mmjsonparse" cookie="")
  if $parsesuccess == "OK" then {
    action(type="ompgsql" conninfo="${o.databaseUrl}" template="ferry_command"
           action.resumeRetryCount="-1" action.resumeInterval="1")
  }
}

input(type="imfile" File="${o.file}" Tag="commands" ruleset="commands" freshStartTail="off" reopenOnTruncate="on" PersistStateInterval="1000")
`;
}

export async function startRsyslog(o: RsyslogOptions): Promise<Rsyslog> {
  const stateDir = join(o.workDir, 'rsyslog-state');
  await mkdir(stateDir, { recursive: true });
  const conf = join(o.workDir, 'rsyslog.conf');
  await writeFile(conf, config(o, stateDir));
  await exec(RSYSLOGD, ['-N1', '-f', conf]); // validates the config, or throws with rsyslog's message
  const child = spawn(RSYSLOGD, ['-n', '-f', conf, '-i', join(o.workDir, 'rsyslogd.pid')], { stdio: ['ignore', 'ignore', 'inherit'] });
  await new Promise((r) => setTimeout(r, 300));
  if (child.exitCode !== null) throw new Error(`rsyslogd exited (${child.exitCode})`);
  return {
    child,
    stop: () => new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}
