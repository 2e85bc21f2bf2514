// Every kustomization under k8s/ (bases and overlays) renders, and every
// object it renders is valid for the Kubernetes API: known apiVersion and
// kind, right types, required fields, no unknown field.

import { describe, expect, it } from 'vitest';
import { kustomizations, render, type K8sObject } from './lib/render.js';
import { schemaErrors, unknownFieldErrors } from './lib/validate.js';

const ALL = kustomizations();

it('finds the bases and overlays', () => {
  expect(ALL).toEqual(expect.arrayContaining([
    'workspace/classic', 'workspace/native', 'receiver', 'postgres', 'minio', 'monitoring',
    'overlays/self-contained', 'overlays/managed', 'overlays/pgbouncer',
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
