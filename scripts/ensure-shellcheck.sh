#!/usr/bin/env bash
# Makes sure `shellcheck` is on PATH (the entry-point tests lint entry_point.sh with it).
# Idempotent: does nothing when shellcheck is already installed; otherwise installs the distribution's package with
# apt-get (Debian/Ubuntu; run as root, or with sudo available). Called from .ci/run before the tests.
set -euo pipefail

if command -v shellcheck >/dev/null 2>&1; then
  echo "shellcheck already installed: $(shellcheck --version | sed -n 's/^version: //p')"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "shellcheck is missing and apt-get is not available: install shellcheck with this system's package manager" >&2
  exit 1
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo_cmd=(sudo)
  else
    echo "shellcheck is missing and installing it needs root (or sudo)" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends shellcheck >/dev/null
echo "shellcheck installed: $(shellcheck --version | sed -n 's/^version: //p')"
