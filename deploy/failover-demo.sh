#!/usr/bin/env bash
# A pg_auto_failover formation on this machine (a monitor and three PostgreSQL 15 nodes: a
# primary and two standbys, one of them synchronous), the example server on it with the
# standbys for reads, and the failover scenario: purchases stream in with idempotency keys, the
# primary's PostgreSQL is killed (SIGKILL, as a crash), pg_auto_failover promotes a standby, and the
# script prints how long purchases stopped, whether any answered 201 is missing on the new
# primary, and whether any was recorded twice. Not part of CI: it takes about a minute.
#
# Needs the Debian packages postgresql-15, postgresql-15-auto-failover and pg-auto-failover-cli,
# curl, and cargo. Run from anywhere: bash deploy/failover-demo.sh
# Settings: ICASH_DEMO_PORT (first of five ports, default 16000), ICASH_DEMO_KEEP=1 to leave the
# formation running at the end (its directory is printed).
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=${ICASH_DEMO_PORT:-16000}
MONITOR_PORT=$BASE
NODE_PORTS=($((BASE + 1)) $((BASE + 2)) $((BASE + 3)))
API_PORT=$((BASE + 4))
BIN=/usr/lib/postgresql/15/bin
for program in "$BIN/pg_ctl" /usr/bin/pg_autoctl curl cargo; do
  command -v "$program" >/dev/null || {
    echo "demo: $program is missing: apt-get install postgresql-15 postgresql-15-auto-failover pg-auto-failover-cli curl" >&2
    exit 1
  }
done

ROOT=$(mktemp -d /tmp/icash-ha.XXXXXX)
if [ "$(id -u)" = 0 ]; then
  chown postgres:postgres "$ROOT"
  as_pg() { runuser -u postgres -- env PATH="$BIN:$PATH" XDG_CONFIG_HOME="$ROOT/config" XDG_DATA_HOME="$ROOT/share" XDG_RUNTIME_DIR="$ROOT/run" "$@"; }
else
  as_pg() { env PATH="$BIN:$PATH" XDG_CONFIG_HOME="$ROOT/config" XDG_DATA_HOME="$ROOT/share" XDG_RUNTIME_DIR="$ROOT/run" "$@"; }
fi
as_pg mkdir -p "$ROOT/config" "$ROOT/share" "$ROOT/run"

PIDS=()
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  if [ "${ICASH_DEMO_KEEP:-0}" = 1 ]; then
    echo "demo: left running in $ROOT (pg_autoctl processes: ${PIDS[*]})"
    return
  fi
  for dir in "$ROOT"/node* "$ROOT"/monitor; do
    [ -d "$dir" ] || continue
    as_pg pg_autoctl stop --pgdata "$dir" --immediate >/dev/null 2>&1 || true
  done
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  sleep 2
  for dir in "$ROOT"/node* "$ROOT"/monitor; do
    [ -d "$dir" ] || continue
    as_pg pg_ctl -D "$dir" -m immediate stop >/dev/null 2>&1 || true
  done
  rm -rf "$ROOT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The state of each node, one `name reported assigned` line each.
states() {
  { as_pg pg_autoctl show state --pgdata "$ROOT/monitor" 2>/dev/null || true; } |
    awk -F'|' 'NR > 2 {gsub(/ /, ""); print $1, $6, $7}'
}

say() { printf '%(%H:%M:%S)T  %s\n' -1 "$*"; }

say "monitor on port $MONITOR_PORT, in $ROOT"
as_pg pg_autoctl create monitor --pgdata "$ROOT/monitor" --pgport "$MONITOR_PORT" \
  --hostname 127.0.0.1 --auth trust --no-ssl --pgctl "$BIN/pg_ctl" >"$ROOT/monitor.log" 2>&1
as_pg pg_autoctl run --pgdata "$ROOT/monitor" >>"$ROOT/monitor.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 60); do
  MONITOR=$(as_pg pg_autoctl show uri --pgdata "$ROOT/monitor" --formation monitor 2>/dev/null) && break
  sleep 1
done
say "monitor: $MONITOR"

for i in 0 1 2; do
  name=node$((i + 1))
  say "$name on port ${NODE_PORTS[$i]}"
  as_pg pg_autoctl create postgres --pgdata "$ROOT/$name" --pgport "${NODE_PORTS[$i]}" \
    --hostname 127.0.0.1 --name "$name" --dbname icash --auth trust --no-ssl \
    --pgctl "$BIN/pg_ctl" --monitor "$MONITOR" --run >"$ROOT/$name.log" 2>&1 &
  PIDS+=($!)
  # One at a time: the first becomes the primary, the others are copied from it.
  for _ in $(seq 1 120); do
    state=$(states | awk -v n="$name" '$1 == n {print $2}')
    case "$state" in primary|secondary|single) break ;; esac
    # A standby is copied with pg_basebackup, which waits for a spread checkpoint (minutes by
    # default): an immediate one ends the wait.
    if [ "$i" -gt 0 ]; then
      as_pg psql -qAt -h 127.0.0.1 -p "${NODE_PORTS[0]}" -U postgres -d postgres \
        -c CHECKPOINT >/dev/null 2>&1 || true
    fi
    sleep 1
  done
  say "$name is $state"
done
as_pg pg_autoctl set formation number-sync-standbys --pgdata "$ROOT/monitor" 1 >/dev/null 2>&1 ||
  say "number-sync-standbys stays at pg_auto_failover's default"
as_pg pg_autoctl show state --pgdata "$ROOT/monitor"
# Every commit waits for a standby: what makes a purchase answered 201 survive the primary.
for _ in $(seq 1 30); do
  SYNC=$(as_pg psql -qAt -h 127.0.0.1 -p "${NODE_PORTS[0]}" -U postgres -d postgres \
    -c "SHOW synchronous_standby_names" 2>/dev/null || true)
  [ -n "$SYNC" ] && break
  sleep 1
done
say "synchronous_standby_names on the primary: '$SYNC'"
[ -n "$SYNC" ] || { echo "demo: the primary does not replicate synchronously" >&2; exit 1; }

URL=$(as_pg pg_autoctl show uri --pgdata "$ROOT/monitor" --formation default)
URL=${URL/postgres:\/\//postgres://postgres@}
READ_URLS=$(printf 'postgres://postgres@127.0.0.1:%s/icash,' "${NODE_PORTS[@]}")
say "icash writes through $URL"

cargo build --quiet --example server
ICASH_AUTH=off ICASH_ADDR=127.0.0.1:$API_PORT DATABASE_URL=$URL \
  ICASH_READ_DATABASE_URL=${READ_URLS%,} RUST_LOG=warn \
  "${CARGO_TARGET_DIR:-target}/debug/examples/server" >"$ROOT/icash.log" 2>&1 &
SERVER_PID=$!
API=http://127.0.0.1:$API_PORT
for _ in $(seq 1 120); do curl -sf "$API/readyz" >/dev/null && break; sleep 1; done
say "icash ready: $(curl -s "$API/readyz")"
BEFORE=$(as_pg psql -qAt "$URL" -c "SELECT count(*) FROM purchases")

# The till: one purchase after another, each with its own key, retried until answered 201.
ACKED=$ROOT/acknowledged
: >"$ACKED"
STOP=$ROOT/stop
till() {
  local n=0
  while [ ! -e "$STOP" ]; do
    n=$((n + 1))
    local key="demo-$1-$n" answer
    while true; do
      answer=$(curl -s -m 10 -w ' %{http_code}' -X POST "$API/cash-register/purchase" \
        -H 'Content-Type: application/json' -H "Idempotency-Key: $key" \
        -d '{"supermarket_id": 1, "user_id": "new", "items": [{"product_id": 1}]}' || true)
      if [ "${answer##* }" = 201 ]; then
        echo "$(date +%s.%N) $key $(echo "$answer" | sed 's/.*"purchase_id":\([0-9]*\).*/\1/')" >>"$ACKED"
        break
      fi
      sleep 0.1
    done
  done
}
till a & T1=$!
till b & T2=$!
sleep 5
PRIMARY=$(states | awk '$2 == "primary" {print $1}')
PRIMARY_PID=$(head -1 "$ROOT/$PRIMARY/postmaster.pid")
KILLED=$(date +%s.%N)
say "$(wc -l <"$ACKED") purchases acknowledged; killing $PRIMARY's PostgreSQL (pid $PRIMARY_PID)"
kill -9 "$PRIMARY_PID"

PROMOTED=
for _ in $(seq 1 120); do
  NEW=$(states | awk '$2 == "primary" && $3 == "primary" {print $1}')
  if [ -n "$NEW" ] && [ "$NEW" != "$PRIMARY" ]; then PROMOTED=$(date +%s.%N); break; fi
  sleep 0.5
done
[ -n "$PROMOTED" ] || { as_pg pg_autoctl show state --pgdata "$ROOT/monitor"; echo "demo: no standby was promoted" >&2; exit 1; }
say "$NEW promoted $(echo "$PROMOTED - $KILLED" | bc) s after the kill"
sleep 10
touch "$STOP"
wait "$T1" "$T2"

RESUMED=$(awk -v p="$PROMOTED" '$1 > p {print $1; exit}' "$ACKED")
GAP=$(awk -v k="$KILLED" '$1 <= k {last = $1} END {print last}' "$ACKED")
NEW_PORT=${NODE_PORTS[$(( ${NEW#node} - 1 ))]}
psql_new() { as_pg psql -qAt -h 127.0.0.1 -p "$NEW_PORT" -U postgres -d icash -c "$1"; }
IDS=$(awk '{print $3}' "$ACKED" | paste -sd, -)
FOUND=$(psql_new "SELECT count(*) FROM purchases WHERE id IN ($IDS)")
TOTAL=$(psql_new "SELECT count(*) FROM purchases")
ACK_COUNT=$(wc -l <"$ACKED")

echo
as_pg pg_autoctl show state --pgdata "$ROOT/monitor"
echo
say "acknowledged purchases:       $ACK_COUNT"
say "found on the new primary:     $FOUND"
say "recorded in all (before $BEFORE): $TOTAL (expected $((BEFORE + ACK_COUNT)))"
say "purchases resumed $(echo "$RESUMED - $PROMOTED" | bc) s after the promotion ($(echo "$RESUMED - $GAP" | bc) s without a purchase)"
say "icash /readyz: $(curl -s "$API/readyz")"
grep -h "writer changed" "$ROOT/icash.log" | tail -1 || true
if [ "$FOUND" = "$ACK_COUNT" ] && [ "$TOTAL" = $((BEFORE + ACK_COUNT)) ] \
   && [ "$(echo "$RESUMED - $PROMOTED < 10" | bc)" = 1 ]; then
  say "OK: no acknowledged purchase lost, none recorded twice, purchases resumed within 10 s"
else
  say "FAILED"; exit 1
fi
