// The placeholder credentials the repository's own manifests carry (kustomize
// secretGenerator literals such as `- READ_TOKEN=change-me-read`): both
// programs must refuse to start with any of them.

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

const K8S = join(import.meta.dirname, '..', '..', 'k8s');

export async function manifestPlaceholders(): Promise<Array<[variable: string, value: string]>> {
  const found: Array<[string, string]> = [];
  for (const entry of await readdir(K8S, { recursive: true })) {
    if (!entry.endsWith('.yaml')) continue;
    const text = await readFile(join(K8S, entry), 'utf8');
    for (const m of text.matchAll(/^\s*-\s*([A-Z][A-Z0-9_]*(?:TOKEN|SECRET|PASSWORD|SECRET_ACCESS_KEY))=(\S+)\s*$/gm)) found.push([m[1]!, m[2]!]);
  }
  return found;
}
