// The receiver as the overlays install it: enough replicas to survive a
// drain and a rollout, probes on its health endpoints, locked down, reachable
// only by workspaces, the dashboard and Prometheus, and configured only with
// variables it reads, whose values its own loader accepts.

import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/env.js';
import { RECEIVER_SPEC, type ReceiverConfig } from '../../receiver/config.js';
import { loadShipperConfig } from '../../shipper/config.js';
import { container, containerEnv, podSpec, type Container } from './lib/pod.js';
import { only, render, type K8sObject } from './lib/render.js';

/** Read by node-postgres (the password stays out of DATABASE_URL) and by the AWS SDK. */
const READ_BY_LIBRARIES = ['PGPASSWORD', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'];
/** PostgreSQL's default max_connections, minus a few for administrators and the stream's listeners. */
const SERVER_CONNECTIONS = 100 - 10;

function matches(selector: { matchLabels?: Record<string, string> }, labels: Record<string, string> = {}): boolean {
  return Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
}

function configMaps(objects: K8sObject[]): Record<string, Record<string, string>> {
  return Object.fromEntries(objects.filter((o) => o.kind === 'ConfigMap').map((o) => [o.metadata.name, o.data ?? {}]));
}

describe.each(['overlays/self-contained', 'overlays/managed', 'overlays/pgbouncer'])('%s', (overlay) => {
  let objects: K8sObject[];
  let deployment: K8sObject;
  let pod: Record<string, any>;
  let receiver: Container;
  let env: Record<string, string>;
  let config: ReceiverConfig;

  beforeAll(async () => {
    objects = await render(overlay);
    deployment = only(objects, 'Deployment', 'ferry-receiver');
    pod = podSpec(deployment);
    receiver = container(pod, 'ferry-receiver');
    env = containerEnv(receiver, configMaps(objects));
    config = loadConfig(RECEIVER_SPEC, env);
  });

  it('is configured only with variables the receiver (or its libraries) reads, with values it accepts', () => {
    const read = new Set([...Object.values(RECEIVER_SPEC).map((s) => s.env), ...READ_BY_LIBRARIES]);
    expect(Object.keys(env).filter((name) => !read.has(name))).toEqual([]);
    expect(new URL(config.databaseUrl).password).toBe('');
  });

  it('accepts the largest batch the workspace pod\'s shipper sends', async () => {
    const shipper = container(only(await render('workspace/classic'), 'Pod').spec, 'ferry-shipper');
    const batches = loadShipperConfig((s) => loadConfig(s, containerEnv(shipper))).batches;
    for (const [pipeline, limits] of Object.entries(batches)) expect(limits.maxBytes, pipeline).toBeLessThanOrEqual(config.maxBodyBytes);
  });

  it('runs two replicas at least, kept by the autoscaler and the disruption budget', () => {
    const labels = deployment.spec.template.metadata.labels;
    expect(deployment.spec.replicas).toBeGreaterThanOrEqual(2);
    const hpa = only(objects, 'HorizontalPodAutoscaler');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'ferry-receiver' });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    const pdb = only(objects, 'PodDisruptionBudget');
    expect(matches(pdb.spec.selector, labels)).toBe(true);
    expect(pdb.spec.minAvailable).toBeLessThan(hpa.spec.minReplicas);
    expect(deployment.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
  });

  it('keeps the connections of all replicas within what PostgreSQL serves', () => {
    const maxReplicas = only(objects, 'HorizontalPodAutoscaler').spec.maxReplicas;
    const bouncer = objects.find((o) => o.kind === 'ConfigMap' && o.data?.['pgbouncer.ini']);
    if (!bouncer) {
      expect(maxReplicas * config.poolMax).toBeLessThanOrEqual(SERVER_CONNECTIONS);
      return;
    }
    const ini = bouncer.data['pgbouncer.ini'] as string;
    const setting = (key: string) => Number(new RegExp(`^${key}\\s*=\\s*(\\d+)`, 'm').exec(ini)?.[1]);
    const bouncers = only(objects, 'Deployment', 'ferry-pgbouncer').spec.replicas;
    expect(maxReplicas * config.poolMax).toBeLessThanOrEqual(setting('max_client_conn') * bouncers);
    expect(setting('max_db_connections') * bouncers).toBeLessThanOrEqual(SERVER_CONNECTIONS);
  });

  it('serves the Service\'s port and is probed on /healthz and /readyz', () => {
    const port = receiver.ports.find((p: { name: string }) => p.name === 'http');
    expect(port.containerPort).toBe(config.port);
    const service = only(objects, 'Service', 'ferry-receiver');
    expect(matches({ matchLabels: service.spec.selector }, deployment.spec.template.metadata.labels)).toBe(true);
    expect(service.spec.ports.map((p: { targetPort: string }) => p.targetPort)).toEqual(['http']);
    expect(receiver.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(receiver.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
  });

  it('finishes in-flight requests within the grace period', () => {
    const [sleep, seconds] = receiver.lifecycle.preStop.exec.command;
    expect(sleep).toBe('sleep');
    const pause = Number(seconds);
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(pause * 1000 + config.shutdownTimeoutMs);
  });

  it('runs as non-root, read-only, with every capability dropped and no service account token', () => {
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(receiver.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(receiver.resources.limits.memory).toBeDefined();
  });
});

describe('the receiver\'s NetworkPolicy', () => {
  let policy: K8sObject;
  let workspaceLabels: Record<string, string>;

  beforeAll(async () => {
    policy = only(await render('receiver'), 'NetworkPolicy');
    workspaceLabels = only(await render('workspace/classic'), 'Pod').metadata.labels!;
  });

  const admitted = (labels: Record<string, string>, namespaceLabels: Record<string, string>) =>
    policy.spec.ingress.some((rule: { from: Array<Record<string, any>> }) => rule.from.some((peer) =>
      matches(peer.podSelector ?? {}, labels) && (peer.namespaceSelector ? matches(peer.namespaceSelector, namespaceLabels) : namespaceLabels['kubernetes.io/metadata.name'] === 'workshop-system')));

  it('admits the workspace pods (their shippers) from any namespace', () => {
    expect(admitted(workspaceLabels, { 'kubernetes.io/metadata.name': 'workshop-42' })).toBe(true);
  });

  it('admits the instructor dashboard and Prometheus', () => {
    expect(admitted({ 'app.kubernetes.io/name': 'instructor-dashboard' }, { 'kubernetes.io/metadata.name': 'workshop-system' })).toBe(true);
    expect(admitted({ 'app.kubernetes.io/name': 'prometheus' }, { 'kubernetes.io/metadata.name': 'monitoring' })).toBe(true);
  });

  it('keeps every other pod out', () => {
    expect(policy.spec.policyTypes).toEqual(['Ingress']);
    expect(admitted({ app: 'anything-else' }, { 'kubernetes.io/metadata.name': 'workshop-system' })).toBe(false);
    expect(admitted({ 'app.kubernetes.io/name': 'instructor-dashboard' }, { 'kubernetes.io/metadata.name': 'workshop-42' })).toBe(false);
  });
});
