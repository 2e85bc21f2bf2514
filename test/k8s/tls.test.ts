// The tls overlay: cert-manager's Certificate fills the Secret the receiver
// mounts whole (a subPath mount never sees a renewal) where TLS_CERT_FILE and
// TLS_KEY_FILE point; the certificate names the Service the way the workspace
// pods and Prometheus reach it.

import { beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../../shared/env.js';
import { RECEIVER_SPEC, type ReceiverConfig } from '../../receiver/config.js';
import { container, containerEnv, podSpec, type Container } from './lib/pod.js';
import { only, render, type K8sObject } from './lib/render.js';

/** What the README gives the workspace pods as DASHBOARD_SERVICE_URL's host. */
const WORKSPACE_HOST = 'ferry-receiver.workshop-system.svc';

let objects: K8sObject[];
let certificate: K8sObject;
let pod: Record<string, any>;
let receiver: Container;
let config: ReceiverConfig;

beforeAll(async () => {
  objects = await render('overlays/tls');
  certificate = only(objects, 'Certificate', 'ferry-receiver');
  pod = podSpec(only(objects, 'Deployment', 'ferry-receiver'));
  receiver = container(pod, 'ferry-receiver');
  const maps = Object.fromEntries(objects.filter((o) => o.kind === 'ConfigMap').map((o) => [o.metadata.name, o.data ?? {}]));
  config = loadConfig(RECEIVER_SPEC, containerEnv(receiver, maps));
});

it('mounts the Secret the Certificate fills, whole and read-only, where TLS_CERT_FILE and TLS_KEY_FILE point', () => {
  const volume = pod.volumes.find((v: { secret?: { secretName: string } }) => v.secret?.secretName === certificate.spec.secretName);
  expect(volume).toBeDefined();
  const mount = receiver.volumeMounts!.find((m) => m.name === volume.name)!;
  expect(mount).toMatchObject({ readOnly: true });
  expect(mount).not.toHaveProperty('subPath');
  expect([config.tlsCertFile, config.tlsKeyFile]).toEqual([`${mount.mountPath}/tls.crt`, `${mount.mountPath}/tls.key`]);
});

it('names the Service as the workspace pods and Prometheus reach it, on port 443', () => {
  const service = only(objects, 'Service', 'ferry-receiver');
  const names = certificate.spec.dnsNames as string[];
  const namespace = service.metadata.namespace!;
  expect(names).toEqual(expect.arrayContaining([`ferry-receiver.${namespace}.svc`, `ferry-receiver.${namespace}.svc.cluster.local`, WORKSPACE_HOST]));
  expect(service.spec.ports).toEqual([{ name: 'https', port: 443, targetPort: 'https' }]);
  const [endpoint] = only(objects, 'ServiceMonitor', 'ferry-receiver').spec.endpoints;
  expect(names).toContain(endpoint.tlsConfig.serverName);
  expect(endpoint.tlsConfig.ca).toEqual({ secret: { name: certificate.spec.secretName, key: 'ca.crt' } });
});

it('renews well before the end, with a new key each time', () => {
  const hours = (d: string) => Number(/^(\d+)h$/.exec(d)?.[1]);
  expect(hours(certificate.spec.renewBefore)).toBeGreaterThanOrEqual(hours(certificate.spec.duration) / 4);
  expect(certificate.spec.privateKey.rotationPolicy).toBe('Always');
  expect(certificate.spec.usages).toContain('server auth');
});
