#!/usr/bin/env bash
# OpenAPI fuzzing: schemathesis generates requests from /api/openapi.json and checks
# that the server never answers 5xx and that every status, content type and body it
# sends is the one the document describes.
#
# Starts its own server (SQLite in a temporary data directory, loopback only),
# completes first-run setup to get an owner account and a workspace, then runs:
#   1. anonymous: every operation, no credentials;
#   2. authenticated: every operation but the session-ending ones below, as the owner,
#      with every {ws} path parameter set to the owner's workspace;
#   3. session-ending operations, each in its own run with a fresh sign-in, because
#      each can end the session it runs with: logout, logoutAll, revokeSession,
#      changePassword, deactivateMember, leaveWorkspace.
# Exits non-zero on any failure. The report groups failures by cause (check, status,
# error code) and gives, for each, the operations, a response and a curl line.
#
# Needs: the built server ($CONVENE_BIN, default target/debug/convene; build it with
# `cargo build --bin convene`) and python3 able to create a venv. Installs the pinned
# requirements.txt into $FUZZ_VENV (default /var/tmp/convene-ci-venv), reused when
# already up to date.
#
# Knobs: FUZZ_MAX_EXAMPLES (30 per operation), FUZZ_SEED (fixed by default so CI is
# repeatable; "random" for a new one each run), FUZZ_TIME_BUDGET (seconds for all
# runs together, 480), FUZZ_OUTPUT_DIR (reports and logs, tests/fuzz/output),
# FUZZ_CHECKS (schemathesis check names, comma-separated; "all" for every check).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${CONVENE_BIN:-$root/target/debug/convene}
venv=${FUZZ_VENV:-/var/tmp/convene-ci-venv}
max_examples=${FUZZ_MAX_EXAMPLES:-30}
seed=${FUZZ_SEED:-20261128}
budget=${FUZZ_TIME_BUDGET:-480}
out=${FUZZ_OUTPUT_DIR:-$here/output}
checks=${FUZZ_CHECKS:-not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance}
# In this order: changePassword last, since a change would stop the sign-ins after it.
session_ending=(revokeSession deactivateMember logoutAll logout leaveWorkspace changePassword)
password="violet-harbor-tangerine-42"

say() { printf 'fuzz: %s\n' "$*"; }
die() {
    say "$*" >&2
    exit 2
}

[ -x "$bin" ] || die "no server binary at $bin (run: cargo build --bin convene, or set CONVENE_BIN)"

mkdir -p "$out"
# Only what earlier runs of this script wrote (FUZZ_OUTPUT_DIR may be any folder).
rm -rf "$out"/anonymous "$out"/authenticated "$out"/session-* "$out"/*.log "$out"/server.out \
    "$out"/server.err
work=$(mktemp -d "${TMPDIR:-/tmp}/convene-fuzz.XXXXXX")
server_pid=""
cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the fuzzer, pinned, in a reusable venv ---------------------------------------
stamp="$venv/.convene-fuzz-requirements"
if ! "$venv/bin/python" -c 'import schemathesis' >/dev/null 2>&1 ||
    ! cmp -s "$here/requirements.txt" "$stamp"; then
    say "installing schemathesis into $venv"
    if ! "$venv/bin/python" -c '' >/dev/null 2>&1; then
        python3 -m venv --clear "$venv" >"$out/venv.log" 2>&1 ||
            die "python3 -m venv failed (Debian: apt-get install python3-venv); see $out/venv.log"
    fi
    "$venv/bin/pip" install --disable-pip-version-check -r "$here/requirements.txt" \
        >>"$out/venv.log" 2>&1 || die "pip install failed; see $out/venv.log"
    cp "$here/requirements.txt" "$stamp"
fi
py="$venv/bin/python"
st="$venv/bin/schemathesis"

# --- the server ---------------------------------------------------------------------
# CONVENE_* variables are the server's settings and it refuses unknown ones, so the
# server gets none from our environment (CONVENE_BIN, a developer's database URL, ...)
# except these. The sign-in and registration limits are raised so the fuzzer measures
# the handlers, not the limiter (429 stays documented and acceptable).
(
    while IFS= read -r name; do unset "$name"; done < <(compgen -e | grep '^CONVENE_' || true)
    export CONVENE_LOGIN_ATTEMPTS_PER_IP_PER_MINUTE=100000
    export CONVENE_LOGIN_ATTEMPTS_PER_ACCOUNT_PER_MINUTE=100000
    export CONVENE_REGISTRATIONS_PER_IP_PER_HOUR=100000
    export CONVENE_ACCESS_TOKEN_TTL_SECS=3600
    # Media on an ephemeral loopback port, whatever else holds the default one.
    export CONVENE_MEDIA_IP=127.0.0.1 CONVENE_MEDIA_PORT=0
    # (Not CONVENE_LOG: the server reads it for its log filter but its settings loader
    # refuses it as an unknown key, so it cannot be set today.)
    exec "$bin" serve --listen 127.0.0.1:0 --data-dir "$work/data"
) >"$work/server.out" 2>"$work/server.err" &
server_pid=$!

base="" token=""
for _ in $(seq 1 600); do
    base=$(grep -o 'listening on http://127\.0\.0\.1:[0-9]*' "$work/server.out" 2>/dev/null | sed 's/^listening on //' || true)
    token=$(grep -o '/setup#token=[A-Za-z0-9_-]*' "$work/server.out" 2>/dev/null | sed 's/.*token=//' || true)
    [ -n "$base" ] && [ -n "$token" ] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
        cat "$work/server.out" "$work/server.err" >&2
        die "the server exited during start"
    fi
    sleep 0.1
done
if [ -z "$base" ] || [ -z "$token" ]; then
    cat "$work/server.out" "$work/server.err" >&2
    die "the server printed no address and setup link within 60 s"
fi
case "$base" in http://127.0.0.1:*) ;; *) die "refusing to fuzz a non-loopback address: $base" ;; esac

# --- first-run setup: the owner account and its workspace ---------------------------
api() { # api sign-in|setup|me ARGS...: small JSON calls with the standard library
    "$py" - "$@" <<'PY'
import json, sys, urllib.request, urllib.error
what, base = sys.argv[1], sys.argv[2]

def call(method, path, body=None, token=None):
    req = urllib.request.Request(base + path, method=method)
    if body is not None:
        req.data = json.dumps(body).encode()
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except OSError as e:  # refused, reset, timed out: the server is gone or stuck
        return 0, str(e)

if what == "setup":
    status, body = call("POST", "/api/setup", {
        "token": sys.argv[3], "email": "fuzz-owner@example.com", "username": "fuzzowner",
        "display_name": "Fuzz Owner", "password": sys.argv[4], "workspace_name": "Fuzz Works"})
    if status != 201:
        sys.exit(f"POST /api/setup answered {status}: {body}")
    access = body["access_token"]
    status, spaces = call("GET", "/api/workspaces", token=access)
    if status != 200 or not spaces:
        sys.exit(f"GET /api/workspaces answered {status}: {spaces}")
    print(access, spaces[0]["id"])
elif what == "sign-in":
    status, body = call("POST", "/api/auth/login",
                        {"login": "fuzz-owner@example.com", "password": sys.argv[3]})
    if status != 200:
        sys.exit(f"POST /api/auth/login answered {status}: {body}")
    print(body["access_token"])
elif what == "me":
    status, _ = call("GET", "/api/me", token=sys.argv[3])
    print(status)
PY
}
read -r access workspace < <(api setup "$base" "$token" "$password") ||
    die "first-run setup failed"
[ -n "${workspace:-}" ] || die "first-run setup returned no workspace"
export FUZZ_WORKSPACE_ID=$workspace

# --- the runs -----------------------------------------------------------------------
deadline=$((SECONDS + budget))
reports=()
failed=0
# shellcheck disable=SC2054 # the commas belong to option values
common=("$base/api/openapi.json" --url "$base" --checks "$checks"
    --max-examples "$max_examples" --continue-on-failure --workers 1
    --request-timeout 10 --generation-database none --no-color
    --report junit,json)
if [ "$seed" != random ]; then common+=(--seed "$seed"); fi

fuzz() { # fuzz LABEL CONFIG_FILE|- [options of schemathesis run...]
    local label=$1 config=()
    [ "$2" = - ] || config=(--config-file "$2")
    shift 2
    local left=$((deadline - SECONDS)) rc=0
    reports+=("$label=$out/$label")
    if [ "$left" -le 0 ]; then
        say "$label: not run, the time budget of ${budget}s is spent"
        failed=1
        return
    fi
    (cd "$work" && timeout -s INT -k 20 "$left" "$st" "${config[@]}" run "${common[@]}" "$@" \
        --report-dir "$out/$label") >"$out/$label.log" 2>&1 || rc=$?
    case $rc in
        0) ;;
        124 | 137) say "$label: stopped by the time budget"; failed=1 ;;
        *) failed=1 ;;
    esac
}

# 1. Anonymous.
fuzz anonymous -
# 2. Authenticated, without the session-ending operations.
excludes=()
for op in "${session_ending[@]}"; do excludes+=(--exclude-operation-id "$op"); done
fuzz authenticated "$here/schemathesis.toml" \
    -H "Authorization: Bearer $access" "${excludes[@]}"
if [ "$(api me "$base" "$access")" != 200 ]; then
    say "authenticated: the session ended during the run, so later results are 401s;" \
        "an operation that ends sessions is missing from session_ending in $0"
    failed=1
fi
# 3. Each session-ending operation with a session of its own.
for op in "${session_ending[@]}"; do
    if ! fresh=$(api sign-in "$base" "$password"); then
        say "session:$op: cannot sign in (did an earlier run change the password?)"
        failed=1
        continue
    fi
    fuzz "session-$op" "$here/schemathesis.toml" \
        -H "Authorization: Bearer $fresh" --include-operation-id "$op"
done

# --- the verdict --------------------------------------------------------------------
if ! kill -0 "$server_pid" 2>/dev/null; then
    say "the server died during the runs"
    failed=1
fi
if grep -q 'panicked' "$work/server.err"; then
    say "the server panicked:"
    grep -A3 'panicked' "$work/server.err" | head -40
    failed=1
fi
cp "$work/server.out" "$work/server.err" "$out/" 2>/dev/null || true

say "schemathesis $("$st" --version | awk '{print $NF}'), checks $checks," \
    "$max_examples examples per operation, seed $seed"
"$py" "$here/report.py" "${reports[@]}" || failed=1
if [ "$failed" -ne 0 ]; then
    say "FAILED (full output and reports: $out)"
    exit 1
fi
say "passed"
