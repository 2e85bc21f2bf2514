// Every kustomization under k8s/ (bases and overlays) renders, and every
// object it renders is valid for the Kubernetes API: known apiVersion and
// kind, right types, required fields, no unknown field. Every image ferry
// installs names a release, never a moving tag.

import { describe, expect, it } from 'vitest';
import { allContainers, podSpec } from './lib/pod.js';
import { kustomizations, render, type K8sObject } from './lib/render.js';
import { schemaErrors, unknownFieldErrors } from './lib/validate.js';

const ALL = kustomizations();

it('finds the bases and overlays', () => {
  expect(ALL).toEqual(expect.arrayContaining([
    'workspace/classic', 'workspace/native', 'receiver', 'postgres', 'minio', 'monitoring',
    'overlays/self-contained', 'overlays/managed', 'overlays/pgbouncer', 'overlays/tls',
  ]));
});

it('the validation itself rejects a misspelt field, a wrong type and an unknown kind', async () => {
  const pod = (container: object): K8sObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'i', ...container }] } });
  expect(unknownFieldErrors([pod({ volumeMounts: [{ name: 'v', mountPath: '/v', readonly: true }] })]).join()).toMatch(/readonly/);
  expect(await schemaErrors(pod({ ports: [{ containerPort: 'http' }] }))).toEqual([expect.stringMatching(/containerPort must be integer/)]);
  expect(await schemaErrors({ apiVersion: 'apps/v1', kind: 'Deploymnet', metadata: { name: 'd' } })).toEqual([expect.stringMatching(/no schema/)]);
});

const rendered: K8sObject[] = [];

describe.each(ALL)('%s', (kustomization) => {
  it('renders, and every object matches its Kubernetes schema', async () => {
    const objects = await render(kustomization);
    expect(objects.length).toBeGreaterThan(0);
    expect((await Promise.all(objects.map(schemaErrors))).flat()).toEqual([]);
    rendered.push(...objects);
  });
});

// One compilation for all of them: the type checker's start-up dominates.
it('renders no object with a field the Kubernetes API does not define', () => {
  expect(rendered.length).toBeGreaterThan(ALL.length);
  expect(unknownFieldErrors(rendered)).toEqual([]);
});

/** A release tag (two numeric parts at least: `0.1.0`, `18.4`, `v1.25.1-p0`, `RELEASE.2025-09-07T16-13-09Z`), or a digest. */
const PINNED = /^[^@\s]+:[^:@/\s]*\d+[.-]\d+[^:@/\s]*(@sha256:[0-9a-f]{64})?$|^[^@\s]+@sha256:[0-9a-f]{64}$/;

it('pins every image ferry installs to a release, not to latest or a major version', () => {
  const workloads = rendered.filter((o) => ['Pod', 'Deployment', 'StatefulSet', 'Job'].includes(o.kind));
  // The workspace container is the platform's own image.
  const images = workloads.flatMap((o) => allContainers(podSpec(o)).filter((c) => c.name !== 'workspace').map((c) => c.image as string));
  expect(new Set(images).size).toBeGreaterThan(3);
  expect(images.filter((image) => !PINNED.test(image) || /:latest\b/.test(image))).toEqual([]);
  for (const moving of ['postgres:18', 'ferry:latest', 'minio/minio']) expect(PINNED.test(moving), moving).toBe(false);
  expect(PINNED.test(`postgres:18.4@sha256:${'0'.repeat(64)}`)).toBe(true);
});
