// The receiver as the overlays install it: enough replicas to survive a
// drain and a rollout (their count left to the autoscaler), probes on its
// health endpoints that wait as long as the endpoints do, locked down,
// reachable only by workspaces, the dashboard and Prometheus and reaching
// only its database, object store and DNS, and configured only with
// variables it reads, whose values its own loader accepts.

import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, variablesOf } from '../../shared/env.js';
import { RECEIVER_SPEC, type ReceiverConfig } from '../../receiver/config.js';
import { loadShipperConfig } from '../../shipper/config.js';
import { connects, type Pod } from './lib/network-policy.js';
import { container, containerEnv, podSpec, type Container } from './lib/pod.js';
import { only, overlays, render, type K8sObject } from './lib/render.js';

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

describe.each(overlays())('%s', (overlay) => {
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
    const read = new Set([...Object.values(RECEIVER_SPEC).flatMap(variablesOf), ...READ_BY_LIBRARIES]);
    expect(Object.keys(env).filter((name) => !read.has(name))).toEqual([]);
    expect(new URL(config.databaseUrl).password).toBe('');
  });

  it('accepts the largest batch the workspace pod\'s shipper sends', async () => {
    const shipper = container(only(await render('workspace/classic'), 'Pod').spec, 'ferry-shipper');
    const batches = loadShipperConfig((s) => loadConfig(s, containerEnv(shipper))).batches;
    for (const [pipeline, limits] of Object.entries(batches)) expect(limits.maxBytes, pipeline).toBeLessThanOrEqual(config.maxBodyBytes);
  });

  it('runs two replicas at least, counted by the autoscaler alone and kept by the disruption budget', () => {
    const labels = deployment.spec.template.metadata.labels;
    // A count in the Deployment would reset the autoscaler's at every apply.
    expect(deployment.spec.replicas).toBeUndefined();
    const hpa = only(objects, 'HorizontalPodAutoscaler');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'ferry-receiver' });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    const pdb = only(objects, 'PodDisruptionBudget');
    expect(matches(pdb.spec.selector, labels)).toBe(true);
    expect(pdb.spec.minAvailable).toBeLessThan(hpa.spec.minReplicas);
    // An unready receiver serves nothing: a drain may always evict it.
    expect(pdb.spec.unhealthyPodEvictionPolicy).toBe('AlwaysAllow');
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

  it('serves the Service\'s port and is probed on /healthz and /readyz, over HTTPS when it has a certificate', () => {
    const [name, scheme] = config.tlsCertFile ? ['https', { scheme: 'HTTPS' }] : ['http', {}];
    const port = receiver.ports.find((p: { name: string }) => p.name === name);
    expect(port.containerPort).toBe(config.port);
    const service = only(objects, 'Service', 'ferry-receiver');
    expect(matches({ matchLabels: service.spec.selector }, deployment.spec.template.metadata.labels)).toBe(true);
    expect(service.spec.ports.map((p: { name: string; targetPort: string }) => [p.name, p.targetPort])).toEqual([[name, name]]);
    expect(receiver.livenessProbe.httpGet).toEqual({ path: '/healthz', port: name, ...scheme });
    expect(receiver.readinessProbe.httpGet).toEqual({ path: '/readyz', port: name, ...scheme });
  });

  it('lets its clients in and Prometheus scrape on the port it serves, with the scheme it serves', () => {
    const served = receiver.ports.map((p: { name: string }) => p.name);
    const policy = only(objects, 'NetworkPolicy', 'ferry-receiver');
    const admitted = policy.spec.ingress.flatMap((rule: { ports: Array<{ port: string }> }) => rule.ports.map((p) => p.port));
    expect(admitted.filter((p: string) => !served.includes(p))).toEqual([]);
    const [endpoint] = only(objects, 'ServiceMonitor', 'ferry-receiver').spec.endpoints;
    expect(only(objects, 'Service', 'ferry-receiver').spec.ports.map((p: { name: string }) => p.name)).toContain(endpoint.port);
    expect(endpoint.scheme ?? 'http').toBe(config.tlsCertFile ? 'https' : 'http');
  });

  it('gives /readyz time beyond a busy event loop\'s pause', () => {
    // /readyz answers from the replica's own state, at once; the default timeout (1 s) would read a long GC pause as not ready.
    expect(receiver.readinessProbe.timeoutSeconds).toBeGreaterThanOrEqual(2);
    expect(receiver.livenessProbe.timeoutSeconds).toBeGreaterThanOrEqual(1);
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

describe('the NetworkPolicies', () => {
  const SYSTEM = 'workshop-system';
  const WORKSPACE_NAMESPACE = { 'ferry/workspaces': 'true' };
  let selfContained: K8sObject[];
  let workspace: Pod;

  const pod = (name: string, namespace = SYSTEM): Pod => ({ namespace, labels: { 'app.kubernetes.io/name': name } });
  const receiver = pod('ferry-receiver');
  const dns = { namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } };

  beforeAll(async () => {
    selfContained = await render('overlays/self-contained');
    const labels = only(await render('workspace/classic'), 'Pod').metadata.labels!;
    workspace = { namespace: 'workshop-42', namespaceLabels: WORKSPACE_NAMESPACE, labels };
  });

  it('admit the shippers of workspace pods in namespaces the platform labels, to the receiver and MinIO', () => {
    expect(connects(selfContained, workspace, receiver, 'http')).toBe(true);
    expect(connects(selfContained, workspace, pod('ferry-minio'), 's3')).toBe(true);
  });

  it('keep out a pod that carries the workspace label in a namespace the platform has not labelled', () => {
    const impostor = { ...workspace, namespace: 'student-sandbox', namespaceLabels: {} };
    expect(connects(selfContained, impostor, receiver, 'http')).toBe(false);
    expect(connects(selfContained, impostor, pod('ferry-minio'), 's3')).toBe(false);
  });

  it('admit the instructor dashboard beside the receiver, and Prometheus from the monitoring namespace', () => {
    expect(connects(selfContained, pod('instructor-dashboard'), receiver, 'http')).toBe(true);
    expect(connects(selfContained, pod('prometheus', 'monitoring'), receiver, 'http')).toBe(true);
    expect(connects(selfContained, pod('instructor-dashboard', 'workshop-42'), receiver, 'http')).toBe(false);
    expect(connects(selfContained, pod('prometheus', 'workshop-42'), receiver, 'http')).toBe(false);
    expect(connects(selfContained, pod('anything-else'), receiver, 'http')).toBe(false);
  });

  it('let the receiver reach DNS, PostgreSQL and MinIO, and nothing else', () => {
    expect(connects(selfContained, receiver, dns, { port: 53, protocol: 'UDP' })).toBe(true);
    expect(connects(selfContained, receiver, dns, { port: 53, protocol: 'TCP' })).toBe(true);
    expect(connects(selfContained, receiver, pod('ferry-postgres'), 'postgres')).toBe(true);
    expect(connects(selfContained, receiver, pod('ferry-minio'), 's3')).toBe(true);
    expect(connects(selfContained, receiver, { ip: '52.95.110.1' }, 443)).toBe(false);
    expect(connects(selfContained, receiver, pod('anything-else'), 8080)).toBe(false);
  });

  it('keep everything but the receiver away from PostgreSQL', () => {
    expect(connects(selfContained, workspace, pod('ferry-postgres'), 'postgres')).toBe(false);
    expect(connects(selfContained, pod('ferry-minio-bucket'), pod('ferry-postgres'), 'postgres')).toBe(false);
    expect(connects(selfContained, pod('instructor-dashboard'), pod('ferry-postgres'), 'postgres')).toBe(false);
  });

  it('with PgBouncer: the receiver reaches it, it reaches PostgreSQL, workspaces reach neither', async () => {
    const objects = await render('overlays/pgbouncer');
    const bouncer = pod('ferry-pgbouncer');
    expect(connects(objects, receiver, bouncer, 'postgres')).toBe(true);
    expect(connects(objects, bouncer, pod('ferry-postgres'), 'postgres')).toBe(true);
    expect(connects(objects, bouncer, dns, { port: 53, protocol: 'UDP' })).toBe(true);
    expect(connects(objects, workspace, bouncer, 'postgres')).toBe(false);
  });

  it('with a managed database and S3: the receiver reaches addresses outside the cluster on their ports only', async () => {
    const objects = await render('overlays/managed');
    for (const port of [5432, 443]) expect(connects(objects, receiver, { ip: '10.20.30.40' }, port), String(port)).toBe(true);
    expect(connects(objects, receiver, { ip: '10.20.30.40' }, 22)).toBe(false);
  });
});
