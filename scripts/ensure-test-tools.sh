#!/usr/bin/env bash
# Makes sure the Debian packages the tests need are installed: shellcheck (the entry-point tests lint entry_point.sh)
# and chromium at /usr/bin/chromium (the quality report's browser test opens the HTML report in it through
# playwright-core; no browser is downloaded). Idempotent and quiet when both are there; otherwise installs what is
# missing with one apt-get run (Debian/Ubuntu; as root, or with sudo). Fails with a clear message when it cannot: the
# tests that need a tool then fail too, they never skip. Called by `npm test`.
set -euo pipefail

missing=()
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ "${#missing[@]}" -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "missing for the tests: ${missing[*]}, and apt-get is not available: install them with this system's package manager" >&2
  exit 1
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo_cmd=(sudo)
  else
    echo "missing for the tests: ${missing[*]}; installing them needs root (or sudo): apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
# apt-get waits for a lock another install holds instead of failing at once
"${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=300 update -qq
"${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
command -v shellcheck >/dev/null 2>&1 || { echo "apt-get ran but shellcheck is still missing" >&2; exit 1; }
[ -x /usr/bin/chromium ] || { echo "apt-get ran but /usr/bin/chromium is still missing" >&2; exit 1; }
echo "installed for the tests: ${missing[*]}"
