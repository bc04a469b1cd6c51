#!/usr/bin/env bash
# Tests the running API against its own OpenAPI document with Schemathesis
# (https://schemathesis.readthedocs.io): builds and starts the example server on the in-memory
# store loaded with data/ (products 1 to 30, branches 1 to 3), waits for /readyz, then runs
# every check of Schemathesis on every operation of GET /openapi.json, with requests the
# document calls valid (which the server must accept) and requests it calls invalid (which the
# server must refuse with a 4xx and a sentence), in all four phases: the document's examples,
# the coverage of each constraint's boundaries, random fuzzing, and the stateful phase that
# follows the document's links (a purchase to its receipt, a page to the next). Exits non-zero
# when Schemathesis finds a failure; the server is stopped on exit.
#
#   bash scripts/schemathesis.sh                    # 100 examples per operation
#   SCHEMATHESIS_MAX_EXAMPLES=500 bash scripts/schemathesis.sh
#   SCHEMATHESIS_SEED=42 bash scripts/schemathesis.sh   # replay a run
#
# The server requires API keys, and Schemathesis sends an administrator key (registered at start
# through ICASH_ADMIN_KEY, a random one per run), which may call every operation; its
# `ignored_auth` check also sends requests without it, which must be refused with 401. The rate
# limits are off: a tool sending thousands of requests as fast as it can is what they slow.
# Every check runs, two in the form of scripts/schemathesis_hooks.py: `positive_data_acceptance`,
# which also accepts a 400 whose sentence names a rule the document can state only in words
# (a product that exists, no product twice, `from` before `to`, the body limit in bytes,
# integers written as `2`), and `negative_data_rejection`, which also accepts the 413 of a body
# over the limit.
# Extra arguments are passed on to `schemathesis run`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts=$PWD/scripts

max_examples=${SCHEMATHESIS_MAX_EXAMPLES:-100}
# The version this script is written for: its CLI and its checks change between releases.
version=4.32.5

if ! python3 -c 'import sys, schemathesis; sys.exit(schemathesis.__version__ != sys.argv[1])' "$version" 2>/dev/null; then
  echo "schemathesis: installing schemathesis $version with pip"
  python3 -m pip install --quiet --disable-pip-version-check "schemathesis==$version"
fi
schemathesis=(python3 -m schemathesis.cli)
"${schemathesis[@]}" --version

# Build first, so that the wait below is the server's start, not the compilation.
cargo build --quiet --example server

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
log=$(mktemp)
# Schemathesis keeps its crash files under .schemathesis/ in its working directory: a
# temporary one, kept when something fails so that `schemathesis replay` can use it.
work=$(mktemp -d)
admin_key=$(python3 -c 'import secrets; print("schemathesis_" + secrets.token_hex(32))')
# `cargo run` replaces itself with the server, so $! is the server's pid.
env -u DATABASE_URL ICASH_ADDR="127.0.0.1:$port" ICASH_DATA_DIR=data RUST_LOG=warn \
  ICASH_AUTH=required ICASH_ADMIN_KEY="$admin_key" ICASH_KEY_RATE_PER_SEC=0 ICASH_AUTH_FAILURES_PER_MIN=0 \
  cargo run --quiet --example server >"$log" 2>&1 &
server=$!

stop() {
  local status=$?
  if kill -0 "$server" 2>/dev/null; then
    kill -TERM "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  if [ "$status" -ne 0 ] && [ -s "$log" ]; then
    echo "schemathesis: the server's log:"
    tail -n 50 "$log"
  fi
  rm -f "$log"
  if [ "$status" -eq 0 ]; then
    rm -rf "$work"
  else
    echo "schemathesis: crash files kept in $work (cd there to replay them)"
  fi
  exit "$status"
}
trap stop EXIT
trap 'exit 130' INT TERM

echo "schemathesis: waiting for $base/readyz (the load finished)"
ready=false
for _ in $(seq 1 120); do
  if ! kill -0 "$server" 2>/dev/null; then
    echo "schemathesis: the server exited before answering"
    exit 1
  fi
  if python3 -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)" "$base/readyz" 2>/dev/null; then
    ready=true
    break
  fi
  sleep 0.5
done
if [ "$ready" != true ]; then
  echo "schemathesis: $base/readyz did not answer 200 within a minute"
  exit 1
fi

seed_args=()
if [ -n "${SCHEMATHESIS_SEED:-}" ]; then
  seed_args=(--seed "$SCHEMATHESIS_SEED")
fi

# One worker: with several, Schemathesis parses Python source in threads, which CPython 3.11
# can fail with "SystemError: AST constructor recursion depth mismatch" (python/cpython#106905).
cd "$work"
# positive_data_acceptance is replaced by its form in the hooks (see the top of this script).
SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH="$scripts${PYTHONPATH:+:$PYTHONPATH}" \
  "${schemathesis[@]}" run "$base/openapi.json" \
  --checks all \
  --exclude-checks positive_data_acceptance,negative_data_rejection \
  --mode all \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "$max_examples" \
  --workers 1 \
  --request-timeout 10 \
  --wait-for-schema 10 \
  --warnings off \
  --header "Authorization: Bearer $admin_key" \
  "${seed_args[@]}" \
  "$@"
