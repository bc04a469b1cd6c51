#!/usr/bin/env bash
# Tests the running API against its own OpenAPI document with Schemathesis
# (https://schemathesis.readthedocs.io): builds and starts the example server on the in-memory
# store loaded with data/ (products 1 to 30), waits for /health, then lets Schemathesis
# generate valid and invalid requests for every operation of GET /openapi.json and check each
# response. Exits non-zero when Schemathesis finds a failure; the server is stopped on exit.
#
#   bash scripts/schemathesis.sh                    # 100 examples per operation, under a minute
#   SCHEMATHESIS_MAX_EXAMPLES=200 bash scripts/schemathesis.sh
#   SCHEMATHESIS_SEED=42 bash scripts/schemathesis.sh   # replay a run
#
# Extra arguments are passed on to `schemathesis run`.
set -euo pipefail
cd "$(dirname "$0")/.."

max_examples=${SCHEMATHESIS_MAX_EXAMPLES:-100}
checks=not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance

# Schemathesis 4 (its CLI flags changed in 4.0), installed for this user when missing.
if ! python3 -c 'import schemathesis, sys; sys.exit(int(schemathesis.__version__.split(".")[0]) < 4)' 2>/dev/null; then
  echo "schemathesis: installing schemathesis 4 with pip"
  python3 -m pip install --quiet --disable-pip-version-check 'schemathesis>=4,<5'
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
# `cargo run` replaces itself with the server, so $! is the server's pid.
env -u DATABASE_URL ICASH_ADDR="127.0.0.1:$port" ICASH_DATA_DIR=data RUST_LOG=warn \
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

echo "schemathesis: waiting for $base/health"
ready=false
for _ in $(seq 1 120); do
  if ! kill -0 "$server" 2>/dev/null; then
    echo "schemathesis: the server exited before answering"
    exit 1
  fi
  if python3 -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)" "$base/health" 2>/dev/null; then
    ready=true
    break
  fi
  sleep 0.5
done
if [ "$ready" != true ]; then
  echo "schemathesis: $base/health did not answer within a minute"
  exit 1
fi

seed_args=()
if [ -n "${SCHEMATHESIS_SEED:-}" ]; then
  seed_args=(--seed "$SCHEMATHESIS_SEED")
fi

# One worker: with several, Schemathesis parses Python source in threads, which CPython 3.11
# can fail with "SystemError: AST constructor recursion depth mismatch" (python/cpython#106905).
cd "$work"
"${schemathesis[@]}" run "$base/openapi.json" \
  --checks "$checks" \
  --max-examples "$max_examples" \
  --workers 1 \
  --request-timeout 10 \
  --wait-for-schema 10 \
  --warnings off \
  "${seed_args[@]}" \
  "$@"
