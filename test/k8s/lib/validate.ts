// Validation against the Kubernetes API's own schemas, offline, in two passes:
//
// 1. kubernetes-models (generated from the OpenAPI schemas of a current
//    Kubernetes, 1.34 here; @kubernetes-models/prometheus-operator for the
//    monitoring CRDs, @kubernetes-models/cert-manager for the Certificate) checks types, enums and required fields with its JSON
//    schema validators. Like kubeconform without -strict, those schemas allow
//    unknown fields, so a misspelt `readonly:` would pass.
// 2. So the same objects are also compiled as TypeScript object literals typed
//    with the same models' interfaces: excess property checks reject every
//    field the API does not define, at any depth.

import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import type { K8sObject } from './render.js';

interface Model {
  new (data: unknown): { validate(): void };
}

/** Where an apiVersion's models live: core and built-in groups, or the CRDs' own packages. */
const CRD_MODELS: Record<string, string> = {
  'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
  'cert-manager.io': '@kubernetes-models/cert-manager',
};

function modelModule(apiVersion: string): string {
  return `${CRD_MODELS[apiVersion.split('/')[0]!] ?? 'kubernetes-models'}/${apiVersion}`;
}

/** Pass 1: the JSON schema of the object's apiVersion and kind. Returns the problems found. */
export async function schemaErrors(o: K8sObject): Promise<string[]> {
  const module = (await import(modelModule(o.apiVersion)).catch(() => ({}))) as Record<string, Model | undefined>;
  const model = module[o.kind];
  if (!model) return [`${o.apiVersion} ${o.kind}: no schema for this apiVersion and kind`];
  try {
    new model(o).validate();
    return [];
  } catch (err) {
    return [`${o.kind} ${o.metadata.name}: ${(err as Error).message}`];
  }
}

// The virtual source file sits in test/k8s so that module resolution finds node_modules.
const VIRTUAL = join(dirname(fileURLToPath(import.meta.url)), '__manifests__.ts');

/** Pass 2: unknown fields, by TypeScript's excess property checks. Returns the compiler's messages. */
export function unknownFieldErrors(objects: K8sObject[]): string[] {
  const imports = [...new Set(objects.map((o) => o.apiVersion))];
  const alias = (apiVersion: string) => `m${imports.indexOf(apiVersion)}`;
  const source = [
    ...imports.map((v) => `import type * as ${alias(v)} from '${modelModule(v)}';`),
    ...objects.map((o, i) => `export const o${i}: ${alias(o.apiVersion)}.I${o.kind} = ${JSON.stringify(o, null, 1)};`),
  ].join('\n');
  const options: ts.CompilerOptions = {
    strict: true, noEmit: true, skipLibCheck: true, types: [],
    target: ts.ScriptTarget.ES2023, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, version, ...rest) => name === VIRTUAL ? ts.createSourceFile(name, source, version) : getSourceFile(name, version, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === VIRTUAL || fileExists(name);
  const program = ts.createProgram([VIRTUAL], options, host);
  const lines = source.split('\n');
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (!d.file || d.start === undefined) return message;
    const line = d.file.getLineAndCharacterOfPosition(d.start).line;
    // The object is the last declaration at or above the line.
    const declaration = lines.slice(0, line + 1).findLastIndex((l) => l.startsWith('export const o'));
    const o = objects[Number(/^export const o(\d+)/.exec(lines[declaration] ?? '')?.[1])];
    return `${o ? `${o.kind} ${o.metadata.name}` : `line ${line + 1}`}: ${message} (${lines[line]?.trim()})`;
  });
}
