#!/usr/bin/env node
// The preStop hook of the shipper when it runs as a classic second container
// (the recommended form: k8s/workspace/classic). There, Kubernetes signals every
// container at once, so the workspace may still be writing its last lines
// when the shipper would start draining. This waits until nothing in
// RUNTIME_DIR has changed for SETTLE_QUIET_MS (the workspace has written its
// final lines, or has exited), or SETTLE_MAX_MS at the latest, and returns;
// the kubelet's SIGTERM follows and the shipper drains everything there is.
// It always exits 0: a failing hook would only hold that SIGTERM back.
//
// A native sidecar needs none of this: the kubelet stops it only after the
// workspace container has exited.

import { loadConfig } from '../shared/env.js';
import { settle, SETTLE_SPEC } from './settle.js';

try {
  const c = loadConfig(SETTLE_SPEC);
  await settle(c.runtimeDir, c.quietMs, c.maxMs);
} catch (err) {
  process.stderr.write(`ferry-shipper preStop: ${(err as Error).message}\n`);
}
