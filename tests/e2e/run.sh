#!/usr/bin/env bash
# Browser end-to-end tests: playwright-core driving Debian's Chromium
# (/usr/bin/chromium) against the server binary ($CONVENE_BIN, default
# ../../target/debug/convene). Screenshots, server logs and page consoles
# land in output/. Extra arguments go to `node --test` (e.g.
# --test-name-pattern=deactivat).
set -euo pipefail
# A relative CONVENE_BIN means relative to the caller's directory.
if [ -n "${CONVENE_BIN:-}" ]; then
  CONVENE_BIN="$(realpath -m -- "$CONVENE_BIN")"
  export CONVENE_BIN
fi
cd "$(dirname "${BASH_SOURCE[0]}")"

if [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/axe-core ]; then
  npm ci --no-audit --no-fund
fi

rm -rf output
mkdir -p output

status=0
node --test --test-concurrency=1 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination=output/results.tap \
  "$@" ./*.test.mjs || status=$?

# One plain closing line, whatever reporter a reader expects.
pass=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' output/results.tap | tail -n 1)
fail=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' output/results.tap | tail -n 1)
cancelled=$(sed -n 's/^# cancelled \([0-9]*\)$/\1/p' output/results.tap | tail -n 1)
skip=$(sed -n 's/^# skipped \([0-9]*\)$/\1/p' output/results.tap | tail -n 1)
# A failed before() hook cancels the tests instead of failing them.
echo "e2e: ${pass:-0} passed, $(( ${fail:-0} + ${cancelled:-0} )) failed, ${skip:-0} skipped"
if [ "$status" -eq 0 ] && [ "${pass:-0}" -eq 0 ]; then
  echo "e2e: no test ran" >&2
  status=1
fi
exit "$status"
