// Reading a rendered pod spec: its containers, and the environment a
// container would see, fed to the programs' own configuration loaders.

import type { K8sObject } from './render.js';

export interface Container {
  name: string;
  env?: Array<{ name: string; value?: string; valueFrom?: Record<string, any> }>;
  envFrom?: Array<Record<string, any>>;
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
  [field: string]: any;
}

/** The pod spec of a Pod, or the pod template of a workload. */
export function podSpec(o: K8sObject): Record<string, any> {
  return o.kind === 'Pod' ? o.spec : o.spec.template.spec;
}

export function allContainers(spec: Record<string, any>): Container[] {
  return [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
}

/**
 * What the kubelet needs from other containers before it starts container
 * `name`: every init container before a regular container, each one completed
 * or, for a native sidecar (restartPolicy Always), started. Regular containers
 * are started one after the other without waiting for any to run.
 */
export function startsAfter(spec: Record<string, any>, name: string): Container[] {
  const init: Container[] = spec.initContainers ?? [];
  const i = init.findIndex((c) => c.name === name);
  if (i >= 0) return init.slice(0, i);
  if (!(spec.containers ?? []).some((c: Container) => c.name === name)) throw new Error(`no container ${name}`);
  return init;
}

export function container(spec: Record<string, any>, name: string): Container {
  const found = allContainers(spec).find((c) => c.name === name);
  if (!found) throw new Error(`no container ${name}`);
  return found;
}

/** Placeholders stand in for what the cluster fills in (field refs, Secrets). */
const FROM_SECRET = 'value-from-a-secret';
export const FROM_FIELD = 'workshop-workspace-abc123';

/**
 * The variables the container's process gets: literal values, placeholders
 * for Secret and field references, and the keys of the ConfigMaps it imports.
 */
export function containerEnv(c: Container, configMaps: Record<string, Record<string, string>> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) {
    if (from.configMapRef) Object.assign(env, configMaps[from.configMapRef.name] ?? {});
    if (from.secretRef) throw new Error(`${c.name} imports a whole Secret: its variable names cannot be checked`);
  }
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.fieldRef) env[e.name] = FROM_FIELD;
    else if (e.valueFrom?.configMapKeyRef) env[e.name] = configMaps[e.valueFrom.configMapKeyRef.name]?.[e.valueFrom.configMapKeyRef.key] ?? '';
    else env[e.name] = FROM_SECRET;
  }
  return env;
}

/** Names of the Secrets a container can read, through its environment or its volumes. */
export function secretsReadBy(c: Container, spec: Record<string, any>): string[] {
  const names = [
    ...(c.env ?? []).flatMap((e) => e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef.name] : []),
    ...(c.envFrom ?? []).flatMap((e) => e.secretRef ? [e.secretRef.name] : []),
  ];
  const volumes: Array<Record<string, any>> = spec.volumes ?? [];
  for (const m of c.volumeMounts ?? []) {
    const v = volumes.find((vol) => vol.name === m.name);
    if (v?.secret) names.push(v.secret.secretName);
    for (const source of v?.projected?.sources ?? []) if (source.secret) names.push(source.secret.name);
  }
  return names;
}

const UNITS: Record<string, number> = { '': 1, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, k: 1e3, M: 1e6, G: 1e9, m: 1e-3 };

/** A Kubernetes quantity (`96Mi`, `500m`, `1`) as a number. */
export function quantity(q: string | number): number {
  const m = /^([0-9.]+)([A-Za-z]*)$/.exec(String(q));
  const unit = m ? UNITS[m[2]!] : undefined;
  if (!m || unit === undefined) throw new Error(`not a quantity: ${q}`);
  return Number(m[1]) * unit;
}

export const MiB = 1024 ** 2;
