// Every pod the overlays install (receiver, PostgreSQL, MinIO and its Job,
// PgBouncer) passes the checks of the restricted Pod Security Standard, which
// the self-contained namespace enforces; the shipper does too, in both
// workspace variants (the workspace container is the platform's, not ferry's).

import { describe, expect, it } from 'vitest';
import { allContainers, podSpec, type Container } from './lib/pod.js';
import { overlays, render, type K8sObject } from './lib/render.js';

const WORKLOADS = ['Pod', 'Deployment', 'StatefulSet', 'Job'];

/** What the restricted profile forbids or requires, for one container of a pod spec. */
function violations(spec: Record<string, any>, c: Container): string[] {
  const pod = spec.securityContext ?? {};
  const own = c.securityContext ?? {};
  const found: string[] = [];
  if (own.privileged) found.push('privileged');
  if (own.allowPrivilegeEscalation !== false) found.push('allowPrivilegeEscalation is not false');
  if (!(own.capabilities?.drop ?? []).includes('ALL')) found.push('capabilities not dropped');
  if ((own.capabilities?.add ?? []).some((cap: string) => cap !== 'NET_BIND_SERVICE')) found.push('capabilities added');
  if ((own.runAsNonRoot ?? pod.runAsNonRoot) !== true) found.push('runAsNonRoot not set');
  if ((own.runAsUser ?? pod.runAsUser) === 0) found.push('runs as uid 0');
  if (!['RuntimeDefault', 'Localhost'].includes((own.seccompProfile ?? pod.seccompProfile)?.type)) found.push('no seccomp profile');
  return found.map((v) => `${c.name}: ${v}`);
}

function podViolations(o: K8sObject, only?: string): string[] {
  const spec = podSpec(o);
  const found = [
    ...['hostNetwork', 'hostPID', 'hostIPC'].filter((f) => spec[f]),
    ...(spec.volumes ?? []).filter((v: Record<string, unknown>) => v.hostPath).map((v: { name: string }) => `hostPath volume ${v.name}`),
    ...allContainers(spec).filter((c) => only === undefined || c.name === only).flatMap((c) => violations(spec, c)),
  ];
  return found.map((v) => `${o.kind} ${o.metadata.name}: ${v}`);
}

describe.each(overlays())('%s', (overlay) => {
  it('installs only pods that pass the restricted Pod Security Standard', async () => {
    const workloads = (await render(overlay)).filter((o) => WORKLOADS.includes(o.kind));
    expect(workloads.length).toBeGreaterThan(0);
    expect(workloads.flatMap((o) => podViolations(o))).toEqual([]);
  });
});

it.each(['workspace/classic', 'workspace/native'])('%s: the shipper passes it too', async (variant) => {
  const [pod] = (await render(variant)).filter((o) => o.kind === 'Pod');
  expect(podViolations(pod!, 'ferry-shipper')).toEqual([]);
});

it('the self-contained namespace enforces it', async () => {
  const namespace = (await render('overlays/self-contained')).find((o) => o.kind === 'Namespace');
  expect(namespace?.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
});
