#!/usr/bin/env bash
# WebRTC interop: aiortc publishes VP8 + Opus through the server's SFU and an aiortc
# guest must decode it (interop.py says exactly what is checked).
#
# Needs python3 (3.11) able to create a venv. Installs the pinned requirements.txt into
# $INTEROP_VENV (default /var/tmp/convene-ci-venv, shared with tests/fuzz), skipped when
# already installed. Uses the server binary $CONVENE_BIN (default target/debug/convene),
# running `cargo build --bin convene` only when that default binary is missing.
#
# Prints one result line on success; on failure also what went wrong and the end of the
# server log (kept in tests/interop/output/). Exit 0 on pass.
#
# Knobs: INTEROP_TIMEOUT (hard limit for the test process, 180 s), and those read by
# interop.py: INTEROP_MEDIA_TIMEOUT (30 s), INTEROP_MIN_FRAMES (60), INTEROP_MIN_AUDIO
# (50), INTEROP_VERBOSE=1.
set -euo pipefail
# A relative CONVENE_BIN means relative to the caller's directory.
if [ -n "${CONVENE_BIN:-}" ]; then
    CONVENE_BIN="$(realpath -m -- "$CONVENE_BIN")"
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
venv=${INTEROP_VENV:-/var/tmp/convene-ci-venv}
out=${INTEROP_OUTPUT:-$here/output}
limit=${INTEROP_TIMEOUT:-180}
mkdir -p "$out"
export INTEROP_OUTPUT=$out

say() { printf 'interop: %s\n' "$*"; }
die() {
    say "FAIL $*" >&2
    exit 2
}

# --- the client, pinned, in the shared venv ------------------------------------------------
stamp="$venv/.convene-interop-requirements"
if ! cmp -s "$here/requirements.txt" "$stamp" ||
    ! "$venv/bin/python" -c 'import aiortc, av, websockets' >/dev/null 2>&1; then
    if ! "$venv/bin/python" -c '' >/dev/null 2>&1; then
        python3 -m venv --clear "$venv" >"$out/venv.log" 2>&1 ||
            die "python3 -m venv failed (Debian: apt-get install python3-venv); see $out/venv.log"
    fi
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt" \
        >>"$out/venv.log" 2>&1 || die "pip install failed; see $out/venv.log"
    cp "$here/requirements.txt" "$stamp"
fi

# --- the server binary -----------------------------------------------------------------------
bin=${CONVENE_BIN:-$root/target/debug/convene}
if [ ! -x "$bin" ]; then
    [ -z "${CONVENE_BIN:-}" ] || die "no server binary at $bin"
    (cd "$root" && cargo build --bin convene) >"$out/build.log" 2>&1 ||
        die "cargo build --bin convene failed; see $out/build.log"
fi

# --- the test: it starts and stops its own server ----------------------------------------------
rc=0
CONVENE_BIN=$bin timeout -k 10 "$limit" "$venv/bin/python" "$here/interop.py" || rc=$?
case $rc in
    124 | 137) say "FAIL the test did not finish within ${limit}s (INTEROP_TIMEOUT)" ;;
esac
exit "$rc"
