// `ferry-shipper from-vector <vector.toml>`: the platform's Vector config
// translates completely (exit 0) into a pod-spec fragment that the Kubernetes
// API and the shipper's own configuration both accept, in the form the
// project recommends (k8s/workspace/classic/pod.yaml, whose settings it
// repeats: the image does not hold the manifests); what ferry cannot do
// is named with its reason (exit 1); a file that is not TOML names its line
// (exit 2).

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { parse as parseToml } from 'smol-toml';
import { loadConfig } from '../../shared/env.js';
import { loadShipperConfig } from '../../shipper/config.js';
import { translate } from '../../shipper/from-vector/translate.js';
import { atEnd } from '../helpers/cleanup.js';
import { run, SHIPPER_BIN, type Exited } from '../helpers/process.js';
import { schemaErrors, unknownFieldErrors } from '../k8s/lib/validate.js';
import { SHIPPER_NODE_FLAGS } from '../../bench/lib/programs.js';

const PLATFORM = fileURLToPath(new URL('../../docs/vector.toml', import.meta.url));
const CLASSIC_POD = new URL('../../k8s/workspace/classic/pod.yaml', import.meta.url);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-from-vector-'));
  atEnd(() => rm(dir, { recursive: true, force: true }));
});

/** The report's comments with wrapped lines joined again. */
const unwrapped = (report: string) => report.replace(/\n#\s{5,}/g, ' ');

async function fromVector(toml: string): Promise<Exited> {
  const file = join(dir, `${Math.random().toString(36).slice(2)}.toml`);
  await writeFile(file, toml);
  return run(SHIPPER_BIN, ['from-vector', file], {});
}

interface EnvVar { name: string; value?: string; valueFrom?: Record<string, Record<string, unknown>> }
interface Container { name: string; image: string; command: string[]; env: EnvVar[]; volumeMounts: Array<{ name: string; mountPath: string; readOnly?: boolean }>; [field: string]: unknown }
interface Fragment {
  metadata: { labels: Record<string, string> };
  spec: {
    containers: Container[];
    volumes: Array<{ name: string; emptyDir?: object }>;
    [field: string]: unknown;
  };
}

/** One Vector component, as the platform writes them. */
const fileSource = (id: string, path: string) => `[sources.${id}]\ntype = "file"\ninclude = ["${path}"]\nread_from = "beginning"\n`;
const httpSink = (id: string, input: string, stream: string) => `[sinks.${id}]\ntype = "http"\ninputs = ["${input}"]\nuri = "\${DASHBOARD_SERVICE_URL}/ingest/${stream}"\nencoding.codec = "json"\nbatch.timeout_secs = 5\n`;

describe('ferry-shipper from-vector', () => {
  it('translates the platform\'s config completely: exit 0, timeouts and read_from reported as not needed', async () => {
    const out = await run(SHIPPER_BIN, ['from-vector', PLATFORM], {});
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('# 14 settings translated, 15 not needed with ferry, 0 not translated.');
    expect(out.stdout).toContain('# Not translated: none.');
    const notNeeded = out.stdout.slice(out.stdout.indexOf('# Not needed with ferry:'), out.stdout.indexOf('# Not translated'));
    for (const sink of ['commands_to_dashboard', 'events_to_dashboard', 'llm_to_dashboard']) expect(notNeeded).toContain(`#   sinks.${sink}.batch.timeout_secs = `);
    for (const source of ['commands_file', 'events_file', 'llm_file', 'cast_file']) expect(notNeeded).toContain(`#   sources.${source}.read_from = "beginning"`);
    // The workspace id, the receiver and the bucket come from the vector container's env, by the same names.
    expect(out.stdout).toMatch(/#   WORKSPACE_ID +from transforms\.commands_tagged\.source/);
    expect(out.stdout).toMatch(/#   DASHBOARD_SERVICE_URL +from sinks\.commands_to_dashboard\.uri/);
    expect(out.stdout).toMatch(/#   RECORDING_BUCKET +from sinks\.cast_to_s3\.bucket/);

    const { metadata, spec } = parseYaml(out.stdout) as Fragment;
    expect(spec.initContainers).toBeUndefined();
    const [shipper] = spec.containers;
    expect(shipper!.restartPolicy).toBeUndefined();
    expect(shipper!.command).toEqual(['node', ...SHIPPER_NODE_FLAGS, '/app/dist/shipper/main.js']);
    expect(shipper!.lifecycle).toEqual({ preStop: { exec: { command: ['node', '/app/dist/shipper/prestop.js'] } } });
    expect(shipper!.volumeMounts).toEqual([
      { name: 'runtime', mountPath: '/workshop/runtime', readOnly: true },
      { name: 'ferry-state', mountPath: '/var/lib/ferry' },
      { name: 'ferry-credentials', mountPath: '/etc/ferry/credentials', readOnly: true },
    ]);
    expect(spec.volumes).toEqual([
      { name: 'ferry-state', emptyDir: { sizeLimit: '16Mi' } },
      { name: 'ferry-credentials', secret: { secretName: 'ferry-shipper-credentials', optional: true, defaultMode: 0o440 } },
    ]);
    const values = Object.fromEntries(shipper!.env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
    expect(values).toEqual({
      RECORDING_FILE: 'session.cast',
      RUNTIME_DIR: '/workshop/runtime',
      PIPELINES: 'commands:command-log.jsonl:commands,events:state-events.jsonl:events,llm:llm-history.jsonl:llm',
      COMMANDS_BATCH_MAX_EVENTS: '100',
      EVENTS_BATCH_MAX_EVENTS: '10',
      LLM_BATCH_MAX_EVENTS: '10',
      // The token from the Secret's volume, read again when it changes; no object-store credential at all.
      INGEST_TOKEN_FILE: '/etc/ferry/credentials/INGEST_TOKEN',
    });
    expect(shipper!.env.filter((e) => e.valueFrom?.secretKeyRef)).toEqual([]);

    // The fragment in the platform's pod is a Pod the API accepts...
    const pod = {
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'workshop-workspace-abc123', labels: { 'app.kubernetes.io/name': 'workshop-workspace', ...metadata.labels } },
      spec: {
        ...spec,
        containers: [
          { name: 'workspace', image: 'myorg/kubernetes-101:step-1-intro', volumeMounts: [{ name: 'runtime', mountPath: '/workshop/runtime' }] },
          ...spec.containers.map((c) => ({ ...c, image: 'ferry:0.1.0', env: [{ name: 'WORKSPACE_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }, ...c.env] })),
        ],
        volumes: [{ name: 'runtime', emptyDir: {} }, ...spec.volumes],
      },
    };
    expect(await schemaErrors(pod)).toEqual([]);
    expect(unknownFieldErrors([pod])).toEqual([]);
    // ...and its env, with the entries carried over, is a configuration the shipper accepts.
    const env = { ...values, WORKSPACE_ID: 'workshop-workspace-abc123', DASHBOARD_SERVICE_URL: 'http://ferry-receiver.workshop-system.svc.cluster.local', RECORDING_BUCKET: 'workshop-recordings' };
    const config = loadShipperConfig((s) => loadConfig(s, env));
    expect(config.pipelines.map((p) => p.file)).toEqual(['command-log.jsonl', 'state-events.jsonl', 'llm-history.jsonl']);
    expect(Object.fromEntries(Object.entries(config.batches).map(([name, b]) => [name, b.maxEvents]))).toEqual({ commands: 100, events: 10, llm: 10 });
  });

  it('prints the shipper as k8s/workspace/classic/pod.yaml has it: a regular container after the workspace, and the pod settings it needs', async () => {
    const out = await run(SHIPPER_BIN, ['from-vector', PLATFORM], {});
    const printed = parseYaml(out.stdout) as Fragment;
    const manifest = parseYaml(await readFile(CLASSIC_POD, 'utf8')) as Fragment;
    const [shipper] = printed.spec.containers;
    const model = manifest.spec.containers.find((c) => c.name === 'ferry-shipper')!;
    expect(manifest.spec.containers.map((c) => c.name)).toEqual(['workspace', 'ferry-shipper']);
    // The container whole, but for what depends on the Vector config or the registry.
    const settings = ({ env: _env, image: _image, ...rest }: Container) => rest;
    expect(settings(shipper!)).toEqual(settings(model));
    // Its Secret references as the manifest's (optional), and the pod's settings with the manifest's values.
    for (const e of shipper!.env.filter((v) => v.valueFrom?.secretKeyRef)) expect(e, e.name).toEqual(model.env.find((m) => m.name === e.name));
    const { containers: _containers, volumes, ...podSettings } = printed.spec;
    expect(Object.keys(podSettings).sort()).toEqual(['automountServiceAccountToken', 'securityContext', 'terminationGracePeriodSeconds']);
    expect(manifest.spec).toMatchObject(podSettings);
    expect(manifest.metadata.labels).toMatchObject(printed.metadata.labels);
    expect(volumes).toEqual(manifest.spec.volumes.filter((v) => v.name !== 'runtime'));
  });

  it('names a remap transform that does more than add workspace_id, and why: exit 1', async () => {
    const toml = `${fileSource('cmds', '/workshop/runtime/command-log.jsonl')}
[transforms.enrich]
type = "remap"
inputs = ["cmds"]
source = '''
.workspace_id = "\${WORKSPACE_ID}"  # the pod's name
.cluster = "eu-west-1"
'''
${httpSink('to_dashboard', 'enrich', 'commands')}`;
    const out = await fromVector(toml);
    expect(out.code).toBe(1);
    expect(out.stdout).toContain('# 0 settings translated, 0 not needed with ferry, 2 not translated.');
    const untranslated = unwrapped(out.stdout.slice(out.stdout.indexOf('# Not translated:')));
    expect(untranslated).toContain('#   transforms.enrich.source = ".workspace_id = \\"${WORKSPACE_ID}\\"  # the pod\'s name\\n.cluster = \\"eu-west-1\\"\\n" the program does more than add workspace_id from a string or an environment variable: `.cluster = "eu-west-1"`; ferry ships each line as written');
    expect(untranslated).toContain('#   sinks.to_dashboard nothing reaches it that ferry can ship');
  });

  it('names sinks and settings ferry does not have, and translates the rest: exit 1', async () => {
    const toml = `data_dir = "/var/lib/vector"
${fileSource('cmds', '/workshop/runtime/command-log.jsonl')}
[transforms.tag]
type = "remap"
inputs = ["cmds"]
source = '.workspace_id = get_env_var!("POD_NAME")'

[transforms.errors_only]
type = "filter"
inputs = ["cmds"]
condition = '.exit_code != 0'

[sinks.to_dashboard]
type = "http"
inputs = ["tag"]
uri = "https://dashboard.example.com/ingest/commands/"
compression = "zstd"
request.timeout_secs = 10
auth.strategy = "bearer"
auth.token = "\${DASHBOARD_TOKEN}"
buffer.type = "disk"
batch.max_events = 5000000

[sinks.search]
type = "elasticsearch"
inputs = ["errors_only"]
endpoints = ["http://search:9200"]
`;
    const out = await fromVector(toml);
    expect(out.code).toBe(1);
    const untranslated = unwrapped(out.stdout.slice(out.stdout.indexOf('# Not translated:')));
    expect(untranslated).toContain('#   transforms.errors_only ferry has no "filter" transform');
    expect(untranslated).toContain('#   sinks.search ferry has no "elasticsearch" sink');
    expect(untranslated).toContain('#   sinks.to_dashboard.compression = "zstd" ferry compresses with gzip or not at all (GZIP)');
    expect(untranslated).toContain('#   sinks.to_dashboard.batch.max_events = 5000000 COMMANDS_BATCH_MAX_EVENTS must be an integer from 1 to 1000000');
    // What could be translated was: a workspace id from another variable, a literal URL, the token.
    const { spec } = parseYaml(out.stdout) as Fragment;
    const env = Object.fromEntries(spec.containers[0]!.env.map((e) => [e.name, e.value]));
    expect(env).toMatchObject({ WORKSPACE_ID: '$(POD_NAME)', DASHBOARD_SERVICE_URL: 'https://dashboard.example.com', INGEST_TOKEN: '$(DASHBOARD_TOKEN)', REQUEST_TIMEOUT_MS: '10000' });
    expect(out.stdout).toMatch(/#   POD_NAME +referenced as \$\(POD_NAME\) below/);
    expect(unwrapped(out.stdout)).toContain('#   data_dir = "/var/lib/vector" checkpoints live in STATE_DIR');
  });

  it('refuses what one ferry-shipper cannot be: files in two folders, two receivers, globs, another recording prefix', () => {
    const t = translate(parseToml(`
${fileSource('a', '/workshop/runtime/command-log.jsonl')}
${fileSource('b', '/var/log/state-events.jsonl')}
${fileSource('c', '/workshop/runtime/*.jsonl')}
${fileSource('cast', '/workshop/runtime/session.cast')}
${httpSink('to_a', 'a', 'commands')}
${httpSink('to_b', 'b', 'events')}
${httpSink('to_c', 'c', 'llm')}
[sinks.to_other]
type = "http"
inputs = ["a"]
uri = "http://elsewhere/ingest/commands"

[sinks.s3]
type = "aws_s3"
inputs = ["cast"]
bucket = "recordings"
key_prefix = "casts/\${WORKSPACE_ID}/"
`));
    const reasons = Object.fromEntries(t.untranslated.map((f) => [f.setting, f.reason]));
    expect(reasons['sources.b.include']).toBe('ferry reads every file from one folder, RUNTIME_DIR: /var/log here, /workshop/runtime before');
    expect(reasons['sources.c.include']).toBe('ferry tails named files, not globs: one pipeline per file (PIPELINES)');
    expect(reasons['sinks.to_other.uri']).toBe('ferry has one DASHBOARD_SERVICE_URL: http://elsewhere here, ${DASHBOARD_SERVICE_URL} from sinks.to_a.uri');
    expect(reasons['sinks.to_b']).toContain('nothing reaches it that ferry can ship');
    expect(reasons['sinks.s3.key_prefix']).toContain('ferry writes under recordings/<WORKSPACE_ID>/');
    expect(t.pipelines.map((p) => `${p.name}:${p.file}:${p.stream}`)).toEqual(['commands:command-log.jsonl:commands']);
  });

  it('a file that is not TOML: exit 2 and the line, nothing on stdout', async () => {
    const out = await fromVector(`${fileSource('cmds', '/workshop/runtime/command-log.jsonl')}\n[sinks.to_dashboard\ntype = "http"\n`);
    expect(out.code).toBe(2);
    expect(out.stdout).toBe('');
    expect(out.stderr).toMatch(/^ferry-shipper from-vector: \S+\.toml is not valid TOML: line 6, column \d+: /);
    expect(out.stderr).toContain('[sinks.to_dashboard');
  });

  it('a file that cannot be read: exit 2', async () => {
    const out = await run(SHIPPER_BIN, ['from-vector', join(dir, 'missing.toml')], {});
    expect(out.code).toBe(2);
    expect(out.stderr).toBe(`ferry-shipper from-vector: cannot read ${join(dir, 'missing.toml')}: ENOENT: no such file or directory\n`);
    expect((await run(SHIPPER_BIN, ['from-vector'], {})).code).toBe(2);
  });
});
