#!/usr/bin/env bash
# Installs Debian's headless-capable Chromium for the HTML report test (tests/test_report_chromium.py).
# Idempotent: does nothing when /usr/bin/chromium already exists. Quiet unless something fails.
set -euo pipefail
CHROMIUM=/usr/bin/chromium
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "scripts/chromium.sh: $CHROMIUM is missing and apt-get is not available;" \
       "install Chromium with your system's package manager (the HTML report test needs it)." >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "scripts/chromium.sh: installing chromium needs root; run 'apt-get install chromium' as root." >&2
    exit 1
  fi
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium; } >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  echo "scripts/chromium.sh: 'apt-get install chromium' failed (see above);" \
       "check the network to the Debian mirror, or install chromium by hand." >&2
  exit 1
fi
if [ ! -x "$CHROMIUM" ]; then
  echo "scripts/chromium.sh: apt-get finished but $CHROMIUM is still missing; install chromium by hand." >&2
  exit 1
fi
