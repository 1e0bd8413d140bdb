# syntax=docker/dockerfile:1
#
# ingesta container image: PostgreSQL → lakehouse loader, for ECS Fargate (see deploy/README.md).
#
#   docker build --platform linux/amd64 -t ingesta:0.1.0 .
#   docker run --rm --env-file prod.env ingesta:0.1.0                      # default: --env prod --validar-calidad-datos
#   docker run --rm --env-file prod.env ingesta:0.1.0 --env prod --tables accounts --dry-run
#
# Base image: Debian bookworm "slim" with Node 24 (the current LTS line; CI runs a smoke subset of the tests on it,
# `npm run test:other-node`, beside the whole suite on the machine's Node 20), pinned to an exact tag. For production
# pin the digest as well (deploy/README.md shows how): NODE_IMAGE=node:24.22.3-bookworm-slim@sha256:…
# Needs BuildKit (the default builder since Docker 23) for COPY --chmod.
#
# Why Debian (glibc) and not Alpine (musl): DuckDB's native library comes from the npm package
# @duckdb/node-bindings-linux-x64 (or -linux-arm64), built against glibc; the lock file's platform packages are the
# glibc ones that npm picks on Debian. Not distroless either: the entry point is a bash script.
#
# Expected size (not measured here, there is no Docker engine on the build machine): the slim base is ~75 MB
# compressed (~200 MB on disk, mostly the node binary and npm); production node_modules are ~145 MB on disk
# (~37 MB compressed: DuckDB's native library ~70 MB, PGlite ~28 MB, AWS SDK ~33 MB); dist/ and schemas/ < 2 MB.
# Total ≈ 350 MB on disk, ≈ 115 MB compressed in ECR.
ARG NODE_IMAGE=node:24.22.3-bookworm-slim

# ---------------------------------------------------------------------------------------------------------- build
FROM ${NODE_IMAGE} AS build
WORKDIR /build

# dependencies first, in their own layer, so a source-only change does not reinstall them. --ignore-scripts: the
# package's `prepare` script runs the build, which needs the sources copied below (no dependency needs an install
# script: the DuckDB binary is a prebuilt platform package).
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund

COPY tsconfig.json ./
COPY src ./src
RUN npm run build

# ---------------------------------------------------------------------------------------------------------- runtime
FROM ${NODE_IMAGE} AS runtime

LABEL org.opencontainers.image.title="ingesta" \
      org.opencontainers.image.description="PostgreSQL → lakehouse raw layer (DuckDB locally; S3 + Glue + Athena for dev/prod)" \
      org.opencontainers.image.licenses="MIT"

ENV NODE_ENV=production
WORKDIR /app

# production dependencies only, straight from the lock file; --ignore-scripts because `prepare` would run tsc,
# which is a dev dependency (the compiled dist/ comes from the build stage)
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

COPY --from=build /build/dist ./dist
COPY schemas ./schemas
COPY --chmod=0755 entry_point.sh ./entry_point.sh

# non-root user; the application files stay owned by root (read-only for it). Writable: /tmp (dev/prod load
# packages and the scratch DuckDB file), /app/schemas/export (the schema export after each load), /app/data (the
# DuckDB file of --env local), and the user's home (DuckDB and the AWS SDK look there for their settings).
RUN groupadd --system --gid 10001 ingesta \
 && useradd --system --uid 10001 --gid 10001 --home-dir /home/ingesta --create-home --shell /usr/sbin/nologin ingesta \
 && mkdir -p /app/data /app/schemas/export \
 && chown 10001:10001 /app/data /app/schemas/export
USER 10001:10001

# The entry point checks the variables the environment needs (exit 2 listing every missing one), prints what it
# runs with secrets masked, then exec's the command: node is the process that receives SIGTERM (ingesta cancels
# and exits 130). Arguments starting with "-" are ingesta flags: `docker run IMAGE --env dev --tables accounts`.
ENTRYPOINT ["/app/entry_point.sh"]
CMD ["node", "/app/dist/cli/main.js", "--env", "prod", "--validar-calidad-datos"]
