#!/usr/bin/env node
// ferry-shipper's entry point. undici parses HTTP with llhttp compiled to
// WebAssembly, and V8 re-compiles hot WebAssembly with its optimizing tier on
// background threads, which costs a transient 30+ MiB of compiler memory: a
// third of a sidecar's budget, for parsing a few small JSON answers. The
// baseline tier is enough, so the flag is set before undici is loaded.

import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--liftoff-only');
await import('./cli.js');
