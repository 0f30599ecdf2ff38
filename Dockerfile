# syntax=docker/dockerfile:1
# Opsdeck's image: the compiled server (dist/) on Node 24, production dependencies only, run as a non-root user.
#
#   docker build -t opsdeck .
#   docker run --rm -p 8080:8080 -e JWT_SECRET=… -e SECRETS_KEY=… -e DATABASE_URL=postgres://… opsdeck
#
# test/unit/deploy-files.test.ts checks this file against the server's configuration (port, probe path, the
# variables it reads, the command), since the machines that run the tests cannot build images.

ARG NODE_IMAGE=node:24-bookworm-slim

# ---- build: every dependency, then `npm run build` (dist/ and client-sdk/dist/) ----
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
COPY client-sdk/package.json client-sdk/
# --ignore-scripts: the root's postinstall fills caches for running the TypeScript sources (the stripped-module
# cache, the embedded database's template), which the compiled server does not use, and the `node`
# devDependency would download a second Node 24; without its install script it adds no `node` to PATH, so
# the scripts run on this image's own Node 24.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build

# ---- runtime: the built output and production dependencies ----
FROM ${NODE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="Opsdeck" \
      org.opencontainers.image.description="The contract-first REST control plane of a DevOps fleet" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080
WORKDIR /app
# dist/package.json is a copy of package.json (scripts/copy-build-assets.ts), so /app is laid out as the
# compiled server expects: server/, generated/ and package.json side by side, node_modules/ next to them, and
# the SDK workspace (which the demo fleet imports as @opsdeck/sdk) in client-sdk/.
COPY package.json package-lock.json ./
COPY client-sdk/package.json client-sdk/
COPY patches/ patches/
# patch-package (a production dependency) applies patches/ to express-openapi-validator, as postinstall does.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
    && node node_modules/patch-package/index.js \
    && npm cache clean --force \
    && mkdir -p .data \
    && chown node:node .data
COPY --from=build /src/dist/ ./
COPY --from=build /src/client-sdk/dist/ client-sdk/dist/
COPY LICENSE ./

# The embedded database (no DATABASE_URL) keeps its files in /app/.data, the only directory the user may write.
USER node
EXPOSE 8080
# Liveness only: the process answers. Readiness (/health/ready, database and Redis) is for load balancers.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/health/live', { signal: AbortSignal.timeout(2500) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
# Exec form, node itself as PID 1: SIGTERM from `docker stop` or the kubelet reaches the server, which stops
# gracefully (readiness fails, in-flight requests finish within SHUTDOWN_GRACE_MS). The flag is npm start's.
CMD ["node", "--max-semi-space-size=16", "server/main.js"]
