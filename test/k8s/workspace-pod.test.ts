// The workspace pod with the shipper, in both forms (classic second
// container, the recommended one, and native sidecar), checked as a platform
// team would review it: the workspace never waits for ferry (nothing the
// shipper needs can keep the workspace container from starting), the
// student's container holds no credential and cannot touch the shipper's
// state, the shipper runs under its own uid, reads the runtime files
// read-only through the pod's fsGroup, is probed, bounded and locked down,
// and every variable it is given is one it reads.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, variablesOf } from '../../shared/env.js';
import { batchSettings, loadShipperConfig, SHIPPER_SPEC, type ShipperConfig } from '../../shipper/config.js';
import { SETTLE_SPEC } from '../../shipper/settle.js';
import { DRAIN_REPORT_TIMEOUT_MS } from '../../shipper/ship/drain-report.js';
import { allContainers, container, containerEnv, FROM_FIELD, MiB, quantity, secretsReadBy, startsAfter, type Container } from './lib/pod.js';
import { only, render } from './lib/render.js';

/** bench `idle`, `shipper` and `recording` on Node 24 (the image's): RSS at rest, and the peaks tailing a 1 GB backlog and uploading a 200 MB recording. */
const RSS = { idle: 63 * MiB, jsonl: 74 * MiB, recording: 93 * MiB };
/** bench `idle`: share of a core at one workspace's pace. */
const ACTIVE_CPU = 0.0026;
/** Time the kubelet needs between the end of the drain and SIGKILL, at least. */
const GRACE_MARGIN_MS = 5_000;
/**
 * The workspace's own stop time the native form budgets for (README, "The
 * drain budget"): a workspace that exits within 10 s of its SIGTERM. The
 * classic form does not wait for it: its drain starts after SETTLE_MAX_MS.
 */
const WORKSPACE_STOP_MS = 10_000;
/** The uid (and gid) of the image's `node` user, which is also the usual uid of a student's shell. */
const STUDENT_UID = 1000;

describe.each([
  { variant: 'workspace/classic', native: false },
  { variant: 'workspace/native', native: true },
])('$variant', ({ variant, native }) => {
  let spec: Record<string, any>;
  let shipper: Container;
  let workspace: Container;
  let config: ShipperConfig;

  beforeAll(async () => {
    spec = only(await render(variant), 'Pod').spec;
    shipper = container(spec, 'ferry-shipper');
    workspace = container(spec, 'workspace');
    config = loadShipperConfig((s) => loadConfig(s, containerEnv(shipper)));
  });

  if (native) {
    it('runs the shipper as a native sidecar, which the workspace waits for until it has started, with no preStop hook', () => {
      expect(spec.initContainers.map((c: Container) => c.name)).toEqual(['ferry-shipper']);
      expect(shipper.restartPolicy).toBe('Always');
      expect(startsAfter(spec, 'workspace')).toEqual([shipper]);
      // A sidecar whose preStop made it exit would be restarted.
      expect(shipper.lifecycle).toBeUndefined();
    });
  } else {
    it('starts the workspace whatever happens to the shipper: nothing runs before it, the shipper is a regular container after it', () => {
      expect(spec.initContainers).toBeUndefined();
      expect(spec.containers.map((c: Container) => c.name)).toEqual(['workspace', 'ferry-shipper']);
      expect(startsAfter(spec, 'workspace')).toEqual([]);
      expect(shipper.restartPolicy).toBeUndefined();
    });

    it('holds the shipper\'s SIGTERM back with a preStop hook until the final writes', () => {
      const [node, program] = shipper.lifecycle.preStop.exec.command;
      expect(node).toBe('node');
      // The image holds the repository's build under /app (Dockerfile).
      expect(existsSync(fileURLToPath(new URL(`../..${program.replace(/^\/app/, '')}`, import.meta.url))), program).toBe(true);
    });
  }

  it('creates the shipper container even without its Secret: every Secret reference and Secret volume is optional', () => {
    const refs = (shipper.env ?? []).flatMap((e) => e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef] : []);
    for (const ref of refs) expect(ref.optional, `${ref.name}/${ref.key}`).toBe(true);
    expect(shipper.envFrom ?? []).toEqual([]);
    const secretVolumes = spec.volumes.filter((v: { secret?: unknown }) => v.secret);
    expect(secretVolumes.length).toBeGreaterThan(0);
    for (const v of secretVolumes) expect(v.secret.optional, v.name).toBe(true);
  });

  it('gives the shipper no probe that could hold the workspace back or take the pod out of service', () => {
    // startupProbe: a native sidecar counts as started only once it passes.
    // readinessProbe: a shipper too busy to answer would make the pod unready.
    expect(shipper.startupProbe).toBeUndefined();
    expect(shipper.readinessProbe).toBeUndefined();
  });

  it('runs the shipper under a uid and gid of its own, and reads the runtime files through the pod\'s fsGroup', () => {
    const { runAsUser, runAsGroup } = shipper.securityContext;
    for (const id of [runAsUser, runAsGroup]) {
      expect(id).toBeGreaterThan(0);
      expect(id).not.toBe(STUDENT_UID);
    }
    expect(workspace.securityContext?.runAsUser).not.toBe(runAsUser);
    expect(spec.securityContext.fsGroup).toBeGreaterThan(0);
    // fsGroup ownership applies to emptyDir volumes: the runtime volume takes the group.
    const runtime = shipper.volumeMounts!.find((m) => m.mountPath === config.runtimeDir)!;
    expect(spec.volumes.find((v: { name: string }) => v.name === runtime.name).emptyDir).toBeDefined();
  });

  it('gives the workspace container no Secret, no service account token and no view of the shipper\'s processes', () => {
    expect(secretsReadBy(workspace, spec)).toEqual([]);
    expect(spec.automountServiceAccountToken).toBe(false);
    expect(spec.shareProcessNamespace).not.toBe(true);
  });

  it('reads its token from a file of its Secret (so a rotated token needs no restart), and holds no object-store credential', () => {
    expect(secretsReadBy(shipper, spec)).toEqual(['ferry-shipper-credentials']);
    const file = config.ingestToken.current;
    expect(file && 'file' in file ? file.file : undefined).toBe('/etc/ferry/credentials/INGEST_TOKEN');
    const mount = shipper.volumeMounts!.find((m) => file && 'file' in file && file.file.startsWith(`${m.mountPath}/`))!;
    expect(mount.readOnly).toBe(true);
    expect(spec.volumes.find((v: { name: string }) => v.name === mount.name).secret.secretName).toBe('ferry-shipper-credentials');
    expect(Object.keys(containerEnv(shipper)).filter((name) => name.startsWith('AWS_') || name.startsWith('S3_'))).toEqual([]);
    expect(config.recordingBucket).toBeDefined();
  });

  it('mounts the runtime files read-only in the shipper, at the folder it reads', () => {
    const mounts = shipper.volumeMounts!.filter((m) => m.mountPath === config.runtimeDir);
    expect(mounts).toEqual([expect.objectContaining({ readOnly: true })]);
    const shared = workspace.volumeMounts!.find((m) => m.name === mounts[0]!.name);
    expect(shared?.mountPath).toBe('/workshop/runtime');
  });

  it('keeps the checkpoints in an emptyDir of the shipper\'s own that the workspace cannot write', () => {
    const state = shipper.volumeMounts!.find((m) => m.mountPath === config.stateDir)!;
    expect(state.readOnly).not.toBe(true);
    expect(spec.volumes.find((v: { name: string }) => v.name === state.name).emptyDir).toBeDefined();
    for (const c of allContainers(spec).filter((c) => c !== shipper)) {
      expect(c.volumeMounts?.filter((m) => m.name === state.name && !m.readOnly) ?? [], c.name).toEqual([]);
    }
  });

  it('sets WORKSPACE_ID from the pod name and only variables the shipper reads', () => {
    expect(shipper.env!.find((e) => e.name === 'WORKSPACE_ID')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
    expect(config.workspaceId).toBe(FROM_FIELD);
    const read = new Set([
      ...Object.values(SHIPPER_SPEC).flatMap(variablesOf),
      ...Object.values(SETTLE_SPEC).map((s) => s.env),
      ...config.pipelines.flatMap((p) => Object.values(batchSettings(p)).map((s) => s.env)),
    ]);
    expect(Object.keys(containerEnv(shipper)).filter((name) => !read.has(name))).toEqual([]);
  });

  it('probes the shipper\'s liveness on its metrics port', () => {
    const port = shipper.ports.find((p: { name: string }) => p.name === shipper.livenessProbe.httpGet.port);
    expect(port.containerPort).toBe(config.metricsPort);
    expect(shipper.livenessProbe.httpGet.path).toBe('/healthz');
  });

  it('bounds the shipper with requests and limits sized from the benchmark: requests what it uses most of its life, limits above its peaks', () => {
    const { requests, limits } = shipper.resources;
    expect(Object.keys(requests).sort()).toEqual(['cpu', 'memory']);
    expect(Object.keys(limits).sort()).toEqual(['cpu', 'memory']);
    expect(quantity(requests.memory)).toBeGreaterThanOrEqual(RSS.idle);
    expect(quantity(requests.cpu)).toBeGreaterThanOrEqual(ACTIVE_CPU);
    expect(quantity(limits.memory)).toBeGreaterThan(Math.max(RSS.jsonl, RSS.recording) * 1.25);
  });

  it('runs the shipper as non-root, read-only, with every capability dropped', () => {
    expect(shipper.securityContext).toMatchObject({
      runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] },
    });
    expect(shipper.securityContext.runAsUser).toBeGreaterThan(0);
  });

  it('gives the pod a grace period that covers the drain budget: the workspace\'s stop (or the preStop wait), the drain deadline, the drain report', () => {
    const settle = loadConfig(SETTLE_SPEC, containerEnv(shipper));
    const needed = (native ? WORKSPACE_STOP_MS : settle.maxMs) + config.drainTimeoutMs + DRAIN_REPORT_TIMEOUT_MS + GRACE_MARGIN_MS;
    expect(spec.terminationGracePeriodSeconds * 1000).toBeGreaterThanOrEqual(needed);
  });
});
