# syntax=docker/dockerfile:1
#
# airflow-scim-sync container image.
#
#   docker build -t airflow-scim-sync:0.1.0 .
#   docker run --rm -p 8080:8080 -p 9464:9464 -v airflow-scim-data:/data \
#     -e SCIM_TOKEN=... -e AIRFLOW_URL=http://airflow-webserver:8080 \
#     -e AIRFLOW_USERNAME=scim-sync -e AIRFLOW_PASSWORD_FILE=/run/secrets/airflow-password \
#     airflow-scim-sync:0.1.0
#
# Base image pin: no registry is reachable from the machine this file was written on, so no digest could be
# read and none is documented anywhere we could check. The exact tag is pinned instead (Node 20.19, Debian 12
# "bookworm", glibc 2.36). To pin by digest as well, run
#   docker buildx imagetools inspect node:20.19-bookworm-slim --format '{{json .Manifest.Digest}}'
# and write FROM node:20.19-bookworm-slim@sha256:<digest> in all three stages (.ci/dockerfile-check.sh accepts both).
# All three stages use the same base, so the native SQLite module built in prod-deps matches the runtime's
# Node ABI (115) and glibc.

############################ build: dev dependencies + tsc ############################
FROM node:20.19-bookworm-slim AS build
WORKDIR /src
ENV npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
COPY package.json package-lock.json ./
# tsc needs no native module: skip install scripts, so better-sqlite3 is not compiled here (it is in prod-deps).
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts
COPY tsconfig.json ./
COPY config ./config
COPY src ./src
COPY test ./test
COPY bench ./bench
COPY dev ./dev
RUN npm run build
# Only the service goes into the image: compiled tests and benchmarks stay behind.
RUN rm -rf dist/test dist/bench dist/dev

############################ prod-deps: runtime node_modules ############################
FROM node:20.19-bookworm-slim AS prod-deps
WORKDIR /src
ENV npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
# better-sqlite3 12 has no prebuild for every Node/glibc pair: node-gyp needs python3, make and g++.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev
# Fail the build here, not at first start, if the native module does not load on this Node.
RUN node -e "new (require('better-sqlite3'))(':memory:').prepare('select sqlite_version() v').get()"

############################ runtime ############################
FROM node:20.19-bookworm-slim AS runtime
LABEL org.opencontainers.image.title="airflow-scim-sync" \
      org.opencontainers.image.description="SCIM 2.0 service provider that keeps Apache Airflow users and roles in step with your identity provider" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production \
    DATABASE_PATH=/data/airflow-scim.db \
    PORT=8080 \
    METRICS_PORT=9464
WORKDIR /app
# A fixed numeric user and group (not the image's "node" 1000), so Kubernetes runAsNonRoot can verify it and
# volume permissions (fsGroup 10001) are predictable. /data is the SQLite volume; /tmp stays writable for a
# read-only root filesystem. `airflow-scim` on PATH makes `kubectl exec ... -- airflow-scim tokens create` work.
RUN groupadd --gid 10001 airflow-scim \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /app --shell /usr/sbin/nologin airflow-scim \
 && mkdir -p /data \
 && chown 10001:10001 /data \
 && chmod 0750 /data \
 && printf '#!/bin/sh\nexec node /app/dist/src/cli/main.js "$@"\n' > /usr/local/bin/airflow-scim \
 && chmod 0755 /usr/local/bin/airflow-scim
# Application files are owned by root and read-only for the service user: it can write only to /data and /tmp.
COPY --chown=0:0 package.json ./
COPY --chown=0:0 config ./config
COPY --chown=0:0 --from=prod-deps /src/node_modules ./node_modules
COPY --chown=0:0 --from=build /src/dist ./dist
VOLUME ["/data"]
USER 10001:10001
EXPOSE 8080 9464
# No curl in slim images: node itself asks /healthz (liveness only; /readyz also checks the DB and Airflow).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "require('http').get('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz',r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1)).setTimeout(4000,function(){this.destroy()})"]
# Node runs as PID 1 and the service installs its own SIGTERM/SIGINT handlers (drains requests and the current
# apply step within server.shutdownTimeout, then exits 0). It starts no child processes, so no init is needed;
# `docker run --init` / compose `init: true` (tini) is harmless if you prefer it.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/dist/src/cli/main.js"]
CMD ["serve"]
