# syntax=docker/dockerfile:1
# One image, both programs: ferry-receiver (the default command) and
# ferry-shipper (the sidecar sets `command`). Node 24 LTS on Debian slim:
# node is on PATH for the shipper's preStop hook, and there is no compiler,
# package manager cache or test tooling in the final stage.

FROM node:24-trixie-slim AS build
WORKDIR /src
# Install scripts are not needed to compile (the only one belongs to the
# embedded PostgreSQL used by tests, which the image never runs).
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY shared ./shared
COPY receiver ./receiver
COPY shipper ./shipper
RUN npm run build

FROM node:24-trixie-slim AS production-deps
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM node:24-trixie-slim
ENV NODE_ENV=production
WORKDIR /app
# Both programs read their version from package.json at /app.
COPY package.json ./
COPY --from=production-deps /src/node_modules ./node_modules
COPY --from=build /src/dist/shared ./dist/shared
COPY --from=build /src/dist/receiver ./dist/receiver
COPY --from=build /src/dist/shipper ./dist/shipper
# The image's `node` user, by number, so that Kubernetes' runAsNonRoot can
# verify it without a passwd lookup.
USER 1000:1000
# 8080: receiver ingest, /metrics, /healthz, /readyz. 9464: shipper /metrics, /healthz, /readyz.
EXPOSE 8080 9464
# Node 24 lets the young generation grow to 128 MiB (Node 20: 32): at full
# ingest speed the receiver's peak RSS was 290-317 MiB with that and 201-212
# MiB with Node 20's size, at the same rate (bench/README.md). The old
# generation is capped at 320 MiB of the pod's 512Mi, so V8 collects before the
# limit: with INGEST_MEMORY_BYTES' 32 MiB of bodies held, the receiver peaks
# near 300 MiB; uncapped on a large node, V8 let it grow past 450 MiB. It
# starts at 64 MiB: smaller, it has less room than one young generation's
# survivors, and V8 marks the whole heap again every few requests (a fifth of
# the receiver's CPU on state events).
CMD ["node", "--max-semi-space-size=16", "--initial-old-space-size=64", "--max-old-space-size=320", "/app/dist/receiver/main.js", "serve"]
