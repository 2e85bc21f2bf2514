// Bad configuration: one line naming the variable, exit 2, before any file is
// read. A credential is the exception: it comes from a Secret that may be
// missing or late, so without a usable one the shipper runs idle instead
// (test/shipper/unconfigured.test.ts).

import { describe, expect, it } from 'vitest';
import { manifestPlaceholders } from '../helpers/placeholders.js';
import { run, SHIPPER_BIN, start } from '../helpers/process.js';

const GOOD = { WORKSPACE_ID: 'ws-1', DASHBOARD_SERVICE_URL: 'http://127.0.0.1:1', INGEST_TOKEN: 'a-token-of-24-characters', STATE_DIR: '/tmp/ferry-config-test', METRICS_PORT: '0' };

describe('ferry-shipper configuration', () => {
  it('--help lists the variables with their defaults, per-pipeline batch limits included', async () => {
    const out = await run(SHIPPER_BIN, ['--help'], {});
    expect(out.code).toBe(0);
    for (const v of ['WORKSPACE_ID', 'DASHBOARD_SERVICE_URL', 'TLS_CA_FILE', 'RECORDING_BUCKET', 'RUNTIME_DIR', 'STATE_DIR', 'INGEST_TOKEN', 'METRICS_PORT', 'COMMANDS_BATCH_MAX_EVENTS', 'LLM_BATCH_MAX_BYTES', 'DRAIN_TIMEOUT_MS']) {
      expect(out.stdout).toContain(v);
    }
    expect(out.stdout).toContain('default: /workshop/runtime');
  });

  it.each([
    [{ WORKSPACE_ID: undefined }, 'WORKSPACE_ID is required'],
    [{ DASHBOARD_SERVICE_URL: undefined }, 'DASHBOARD_SERVICE_URL is required'],
    [{ DASHBOARD_SERVICE_URL: 'instructor-dashboard:80' }, 'DASHBOARD_SERVICE_URL must be an http:// or https:// URL, got "instructor-dashboard:80"'],
    [{ INGEST_TOKEN_FILE: '/run/secrets/token' }, 'INGEST_TOKEN_FILE must be unset while INGEST_TOKEN is set'],
    [{ CREDENTIALS_RELOAD_INTERVAL_MS: 'often' }, 'CREDENTIALS_RELOAD_INTERVAL_MS must be an integer'],
    [{ WORKSPACE_ID: 'a\tb' }, 'WORKSPACE_ID must be 1-253 printable characters'],
    [{ METRICS_PORT: '70000' }, 'METRICS_PORT must be an integer from 0 to 65535, got "70000"'],
    [{ COMMANDS_BATCH_MAX_EVENTS: '0' }, 'COMMANDS_BATCH_MAX_EVENTS must be an integer from 1 to 1000000, got "0"'],
    [{ LLM_BATCH_MAX_BYTES: 'lots' }, 'LLM_BATCH_MAX_BYTES must be a size'],
    [{ PIPELINES: 'commands:a.jsonl:nowhere' }, 'PIPELINES must be name:file:stream entries'],
    [{ DELIVERY_FORMAT: 'xml' }, 'DELIVERY_FORMAT must be one of native, vector'],
    [{ GZIP: 'maybe' }, 'GZIP must be true or false'],
    [{ STATE_DIR: '/etc/hostname/ferry' }, 'STATE_DIR must be a folder the shipper can write'],
    [{ TLS_CA_FILE: '/nonexistent/ca.crt' }, 'TLS_CA_FILE must be a readable PEM file of CA certificates, got "/nonexistent/ca.crt (ENOENT)"'],
    [{ TLS_CA_FILE: '/etc/hostname' }, 'TLS_CA_FILE must be a PEM file of CA certificates, got "/etc/hostname (no certificate in it)"'],
  ])('%j: one line naming the variable, exit 2', async (change, message) => {
    const out = await run(SHIPPER_BIN, [], { ...GOOD, ...change });
    expect(out.code).toBe(2);
    expect(out.stderr.trim().split('\n')).toHaveLength(1);
    expect(out.stderr).toContain(message);
    expect(out.stdout).toBe('');
  });

  it('never sends a placeholder or weak token the repository\'s manifests could carry: it runs idle, says why, never echoes it', async () => {
    const tokens = (await manifestPlaceholders()).filter(([v]) => v === 'INGEST_TOKEN').map(([, value]) => value);
    for (const value of [...tokens, 'short-token']) {
      const shipper = start(SHIPPER_BIN, [], { ...GOOD, INGEST_TOKEN: value });
      const line = await shipper.waitForLog((l) => l.msg === 'credential cannot be used: it is never sent');
      expect(line).toMatchObject({ level: 50, variable: 'INGEST_TOKEN' });
      await shipper.waitForLog((l) => String(l.msg).startsWith('no usable INGEST_TOKEN'));
      shipper.child.kill('SIGKILL');
      await shipper.exited;
      expect(shipper.output()).not.toContain(value);
    }
  });

  it('a fifth file is configuration: a PIPELINES entry with its own batch settings', async () => {
    const out = await run(SHIPPER_BIN, [], { ...GOOD, PIPELINES: 'commands:command-log.jsonl:commands,extra:extra.jsonl:commands', EXTRA_BATCH_MAX_EVENTS: 'none' });
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('EXTRA_BATCH_MAX_EVENTS must be an integer');
  });
});
