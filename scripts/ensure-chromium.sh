#!/usr/bin/env bash
# Makes sure Debian's headless-capable chromium is at /usr/bin/chromium (the quality report's browser test opens the
# HTML report in it through playwright-core; no browser is downloaded). Idempotent and quiet when chromium is there;
# otherwise installs the distribution's package with apt-get (Debian/Ubuntu; as root, or with sudo). Fails with a
# clear message when it cannot: the browser test then fails too, it never skips.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium is missing at $CHROMIUM and apt-get is not available: install Debian's chromium package" >&2
  exit 1
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo_cmd=(sudo)
  else
    echo "chromium is missing at $CHROMIUM and installing it needs root (or sudo): apt-get install chromium" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
# apt-get waits for a lock another install holds instead of failing at once
"${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=300 update -qq
"${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends chromium >/dev/null
if [ ! -x "$CHROMIUM" ]; then
  echo "apt-get installed chromium but $CHROMIUM is missing" >&2
  exit 1
fi
echo "chromium installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
