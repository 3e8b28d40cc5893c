#!/usr/bin/env bash
# The browser tests (ctest `browser`): playwright-core from npm at the version package-lock.json
# pins, Debian's chromium, the callpop binary $CALLPOP_BINARY names.
set -euo pipefail
cd "$(dirname "$0")"
command -v chromium >/dev/null || { echo "chromium is missing: run scripts/install-deps" >&2; exit 1; }
if ! cmp -s package-lock.json node_modules/.package-lock.json 2>/dev/null; then
  npm ci --no-audit --no-fund --loglevel=error
fi
exec node --test --test-concurrency=1 .
