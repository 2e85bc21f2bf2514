// Renders a kustomization the way `kubectl apply -k` does, without a cluster:
// `kubectl kustomize` (kustomize built into kubectl) prints the objects, which
// are parsed here. kubectl is on this project's machines (it comes with the
// image's Google Cloud CLI); Debian's own kubectl package is too old (1.20)
// to know native sidecars.

import { execFile } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';

const exec = promisify(execFile);

export const K8S_DIR = fileURLToPath(new URL('../../../k8s/', import.meta.url));

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: any;
}

/** Every folder below k8s/ that holds a kustomization.yaml, relative to k8s/. */
export function kustomizations(dir = K8S_DIR): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) found.push(...kustomizations(path));
    else if (entry === 'kustomization.yaml') found.push(relative(K8S_DIR, dir));
  }
  return found.sort();
}

/** The overlays, which install ferry: each one gets the checks of a whole install. */
export function overlays(): string[] {
  return kustomizations().filter((k) => k.startsWith('overlays/'));
}

export async function render(kustomization: string): Promise<K8sObject[]> {
  const { stdout } = await exec('kubectl', ['kustomize', join(K8S_DIR, kustomization)], { maxBuffer: 64 * 1024 * 1024 }).catch((err: NodeJS.ErrnoException & { stderr?: string }) => {
    if (err.code === 'ENOENT') throw new Error('kubectl is not on PATH: the Kubernetes tests render k8s/ with `kubectl kustomize` (kustomize v5)');
    throw new Error(`kubectl kustomize ${kustomization} failed: ${err.stderr ?? err.message}`);
  });
  return parseAllDocuments(stdout).map((doc) => {
    if (doc.errors.length > 0) throw doc.errors[0];
    return doc.toJS() as K8sObject;
  });
}

/** The one object of that kind (and name, when given); fails when there is not exactly one. */
export function only(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const matches = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (matches.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${matches.length}`);
  return matches[0]!;
}
