#!/usr/bin/env bash
# CI: installs Debian's Chromium for the portal's browser tests (test/portal.test.ts) when it is
# missing and we are root; idempotent and quiet. Without it those tests are skipped, saying why.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ci: no Chromium at /usr/bin/chromium and cannot install it (not root or no apt-get); browser tests will be skipped" >&2
  exit 0
fi
echo "ci: installing chromium for the browser tests"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq chromium >/dev/null
