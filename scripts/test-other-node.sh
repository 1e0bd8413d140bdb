#!/usr/bin/env bash
# The smoke subset on the other supported Node line: the whole suite runs on the machine's Node (`npm test`); this
# runs the demo and one end-to-end run each way (local DuckDB, dev/prod on the S3 + Glue/Athena stand-ins) on the other
# one — Node 24 on a Node 20 machine, Node 20 on a Node 24 machine. Needs a build (`npm run build`, or npm test first).
set -euo pipefail
cd "$(dirname "$0")/.."
current="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$current" = "24" ]; then other=20; else other=24; fi
node_bin="$(bash scripts/ensure-node.sh "$other")"
echo "smoke subset on Node $("$node_bin" --version) (the machine's is $(node --version))"
[ -f dist/cli/main.js ] || npm run build
# vitest under the other Node: its test processes and every CLI they spawn (process.execPath) run on it too; the
# first file runs `ingesta demo` and the library example, the other two a full + incremental run each way
exec "$node_bin" node_modules/vitest/vitest.mjs run \
  test/integration/library-and-demo.test.ts \
  test/integration/local-ingestion.test.ts \
  test/integration/athena-destination.test.ts
