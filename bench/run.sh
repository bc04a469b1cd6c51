#!/usr/bin/env bash
# The icash benchmark: one run on a fresh database, one markdown table.
#
#   bash bench/run.sh [PURCHASES]          # default 1000000; customers = PURCHASES / 10
#
# It recreates the database icash_bench, builds the release examples, generates PURCHASES
# purchases with gen-data, starts the release server on them (the load time is from its start to
# "listening"), and then measures, with examples/loadgen.rs for HTTP and pgbench for the SQL
# ceilings (the server's own statements, bench/pgbench/*.sql, at the same concurrency):
#   0. the load's ceiling: the rows and sums the server COPYed, sent again by psql into a fresh
#      copy of the schema and finished as the server does (load_ceiling below);
#   1. every analytics endpoint and /dashboard at 8 clients over the whole history, then over
#      periods of 1, 7, 30 and 365 days, the sales over time of the year by day (the chain's and
#      one branch's), then the unpaged /analytics/loyal-customers (a bounded
#      number of requests: it is large), and the plans of the costly queries (explain.txt);
#   2. on a restarted server: the analytics of one branch, then the 1-day period again, with its
#      pgbench ceilings measured again beside it (the server's prepared statements are shared
#      by every filter: see BENCHMARKS.md);
#   3. on a restarted server (so that its resident size is not the analytics' leftover):
#      POST /cash-register/purchase at 8 and 32 clients, against pgbench running the server's own
#      statement (record_one.sql) and a minimal transaction (minimal.sql), the three taking
#      turns in several rounds, and at 32 clients the same minimal transaction into bare tables
#      (no foreign keys, triggers or aggregates: the bare-insert ceiling); in the 8-client rounds, a till handing in batches of 1,000
#      purchases made offline (POST /cash-register/purchases/batch, 1 client) takes its turn
#      too, so that its purchases per second compare with the single purchases';
#   4. what a key check costs: the same 8-client purchases on a server run open and on one that
#      requires keys (loadgen sending the administrator key), restarted in turns.
# The server's resident size (VmRSS) is sampled every 0.2 s all along. The analytics run before
# the purchases, so that they see exactly PURCHASES purchases.
#
# Settings (environment): PGHOST/PGPORT/PGUSER (127.0.0.1, 5432, postgres), ICASH_BENCH_DB
# (icash_bench), ICASH_BENCH_ADDR (127.0.0.1:18123), BENCH_PURCHASE_SECS (15),
# BENCH_PURCHASE_ROUNDS (how many times the purchase runs take turns; 3),
# BENCH_ANALYTICS_SECS (4), BENCH_ANALYTICS_WARMUP (1), BENCH_LOAD_TIMEOUT (seconds the first
# start may take to load the data; 3600), BENCH_STATEMENT_TIMEOUT_SECS (the server's statement
# timeout; 300), BENCH_WORK (target/bench/PURCHASES: data, logs,
# results), BENCH_REUSE_DB (1: keep the database and the data files of an earlier run of the
# same size, and measure again without loading; the earlier runs' purchases stay in it).
#
# Everything it writes is under BENCH_WORK: results.jsonl (one object per measurement),
# table.md (the table it prints), explain.txt (plans of the costly queries), server*.log, rss.log.
set -euo pipefail

PURCHASES=${1:-1000000}
CUSTOMERS=$((PURCHASES / 10 > 0 ? PURCHASES / 10 : 1))
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
DB=${ICASH_BENCH_DB:-icash_bench}
ADDR=${ICASH_BENCH_ADDR:-127.0.0.1:18123}
URL=http://$ADDR
PURCHASE_SECS=${BENCH_PURCHASE_SECS:-15}
PURCHASE_ROUNDS=${BENCH_PURCHASE_ROUNDS:-3}
ANALYTICS_SECS=${BENCH_ANALYTICS_SECS:-4}
ANALYTICS_WARMUP=${BENCH_ANALYTICS_WARMUP:-1}
REUSE_DB=${BENCH_REUSE_DB:-0}
LOAD_TIMEOUT=${BENCH_LOAD_TIMEOUT:-3600}
# A year's loyal list at 8 clients on 2 cores takes longer than the server's default 30 s
# statement timeout (each client's query gets a quarter of the machine): the benchmark measures
# it rather than its 503s.
STATEMENT_TIMEOUT=${BENCH_STATEMENT_TIMEOUT_SECS:-300}
# Every psql and pgbench session runs with the server's session settings (icash-postgres's
# SESSION_SETTINGS, and the statement timeout that arms a timer around each statement), so that
# ceilings and plans are those of the server's own statements.
export PGOPTIONS="-c jit=off -c work_mem=64MB -c statement_timeout=${STATEMENT_TIMEOUT}s"
WORK=${BENCH_WORK:-$ROOT/target/bench/$PURCHASES}
# The examples are built where cargo puts them: CARGO_TARGET_DIR when set.
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/examples
PGB=$ROOT/bench/pgbench
RESULTS=$WORK/results.jsonl
# The administrator key of the server run with keys required (a bench database's only key).
BENCH_KEY=icash_bench_administrator_key_0123456789abcdef

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
now() { date +%s.%N; }
minus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }

SERVER_PID=
SAMPLER_PID=
# Stops the sampler and the server (SIGTERM, then SIGKILL after 10 s).
stop_server() {
    if [[ -n $SAMPLER_PID ]]; then kill "$SAMPLER_PID" 2>/dev/null || true; fi
    SAMPLER_PID=
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        log "stopping the server (pid $SERVER_PID)" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=
}
trap stop_server EXIT
trap 'exit 130' INT TERM HUP PIPE

# Appends one JSON object, made of `key=value` arguments (numbers stay numbers), to the results.
record() {
    python3 - "$RESULTS" "$@" <<'EOF'
import json, sys
row = {}
for arg in sys.argv[2:]:
    key, _, value = arg.partition("=")
    try:
        row[key] = json.loads(value)
    except ValueError:
        row[key] = value
with open(sys.argv[1], "a") as out:
    out.write(json.dumps(row) + "\n")
EOF
}

# loadgen NAME CLIENTS ARGS...: one HTTP run, recorded under NAME.
loadgen() {
    local name=$1 clients=$2
    shift 2
    local started ended line
    started=$(now)
    line=$("$BIN/loadgen" --url "$URL" --clients "$clients" --json --label "$name" "$@")
    ended=$(now)
    jq -r '"  \(.label): \(.rps | floor) req/s, p50 \(.p50_ms) ms, p99 \(.p99_ms) ms, \(.errors) errors, \(.mean_body_bytes | floor) B"' <<<"$line" >&2
    python3 - "$RESULTS" "$line" "$started" "$ended" <<'EOF'
import json, sys
row = json.loads(sys.argv[2])
row.update(kind="http", name=row.pop("label"), started=float(sys.argv[3]), ended=float(sys.argv[4]))
with open(sys.argv[1], "a") as out:
    out.write(json.dumps(row) + "\n")
EOF
}

# pgb NAME CLIENTS SECONDS SCRIPT [PGBENCH ARGS...]: one pgbench run, recorded under NAME, with
# the latency percentiles from its per-transaction log.
pgb() {
    local name=$1 clients=$2 seconds=$3 script=$4
    shift 4
    local output tps latency failed logs
    logs=$(mktemp -d "$WORK/pgbench.XXXXXX")
    output=$(pgbench -n -M prepared -c "$clients" -j 2 -T "$seconds" -l --log-prefix="$logs/log" "$@" \
        -f "$script" "$DB" 2>&1) || {
        echo "$output" >&2
        return 1
    }
    tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$output")
    latency=$(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' <<<"$output")
    failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' <<<"$output")
    # The third field of each line is the transaction's time in microseconds.
    read -r p50 p99 < <(cat "$logs"/log* | awk '{ print $3 }' | sort -n | awk '
        { v[NR] = $1 } END { i50 = int(NR * 0.50); i99 = int(NR * 0.99); if (i50 < 1) i50 = 1; if (i99 < 1) i99 = 1;
                             printf "%.3f %.3f\n", v[i50] / 1000, v[i99] / 1000 }')
    rm -rf "$logs"
    log "  pgbench $name: $tps tps, average $latency ms, p50 $p50 ms, p99 $p99 ms"
    record kind=pgbench "name=$name" "clients=$clients" "tps=$tps" "latency_ms=$latency" \
        "p50_ms=$p50" "p99_ms=$p99" "failed=${failed:-0}"
}

rss_max_between() { # START END (epoch seconds): the largest VmRSS sampled between them, in KiB
    awk -v a="$1" -v b="$2" '$1 >= a && $1 <= b && $2 > m { m = $2 } END { print m + 0 }' "$WORK/rss.log"
}

# start_server LOG: starts the server (which loads the data files into an empty database),
# samples its VmRSS into rss.log, and returns once it listens. Sets SERVER_PID, STARTED, MIGRATED
# and LISTENING (epoch seconds).
start_server() {
    local server_log=$1
    : >"$server_log"
    STARTED=$(now)
    # Open (ICASH_AUTH=off, loadgen sends no key) unless SERVER_AUTH=required: then BENCH_KEY is
    # its administrator key, and the key's rate limit is checked but never reached.
    DATABASE_URL="postgres://$PGUSER@$PGHOST:$PGPORT/$DB" ICASH_DATA_DIR="$WORK/data" ICASH_ADDR="$ADDR" \
        ICASH_STATEMENT_TIMEOUT_SECS="$STATEMENT_TIMEOUT" ICASH_AUTH="${SERVER_AUTH:-off}" \
        ICASH_ADMIN_KEY="$BENCH_KEY" ICASH_KEY_RATE_PER_SEC=1000000 \
        RUST_LOG=info "$BIN/server" >"$server_log" 2>&1 &
    SERVER_PID=$!
    (
        while kill -0 "$SERVER_PID" 2>/dev/null; do
            rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status" 2>/dev/null || true)
            [[ -n $rss ]] && echo "$(now) $rss"
            sleep 0.2
        done
    ) >>"$WORK/rss.log" &
    SAMPLER_PID=$!
    MIGRATED=
    until grep -q 'listening on' "$server_log"; do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            cat "$server_log" >&2
            echo "the server stopped before listening" >&2
            exit 1
        fi
        if [[ -z $MIGRATED ]] && grep -q 'applied the migrations' "$server_log"; then MIGRATED=$(now); fi
        if [[ -n $MIGRATED ]] && (($(minus "$(now)" "$MIGRATED" | cut -d. -f1) > LOAD_TIMEOUT)); then
            # The load is one transaction, invisible until it commits: estimate its progress from
            # the size of the purchases table (about 83 bytes a purchase with this data).
            local bytes
            bytes=$(psql -XAtc "SELECT pg_relation_size('purchases')" -d "$DB")
            record kind=load_timeout "seconds=$LOAD_TIMEOUT" "purchases_table_bytes=$bytes"
            log "not listening after loading for $LOAD_TIMEOUT s; purchases table: $bytes bytes"
            exit 2
        fi
        sleep 0.05
    done
    LISTENING=$(now)
}

# load_ceiling: what PostgreSQL alone takes for the load's own statements. The rows the server
# COPYed (purchases, lines, and the sums it staged: customers, branches' customers, hours) are
# copied out of the loaded database, then sent again by psql, in binary COPYs, into a fresh copy of
# the schema (with the branches and products), between the server's icash_bulk_load_begin() and
# icash_bulk_load_finish(..) and the business days' rebuild, in one transaction rolled back. The server staged its sums batch by
# batch, so that some hours and customers came in several rows: the ceiling's single rows spare
# PostgreSQL a little of the server's work.
load_ceiling() {
    local db=${DB}_ceiling dir=$WORK/ceiling last_id started seconds
    log "the load's ceiling: its rows sent again by psql into $db"
    rm -rf "$dir"
    mkdir -p "$dir"
    local -A selects=(
        [purchases]="SELECT id, branch_id, customer_id, purchased_at, total FROM purchases"
        [lines]="SELECT purchase_id, product_id, position, unit_price FROM purchase_lines"
        [customers]="SELECT id, purchases, spent, first_purchase, last_purchase FROM customers"
        [customer_branches]="SELECT branch_id, customer_id, purchases FROM customer_branches"
        [branch_hours]="SELECT branch_id, hour, sum(purchases)::bigint, sum(revenue) FROM branch_hours GROUP BY 1, 2"
        [product_hours]="SELECT product_id, branch_id, hour, sum(units)::bigint FROM product_hours GROUP BY 1, 2, 3"
    )
    local name
    for name in "${!selects[@]}"; do
        psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -c "\\copy (${selects[$name]}) TO '$dir/$name.bin' (FORMAT binary)"
    done
    last_id=$(psql -XAt -d "$DB" -c 'SELECT max(id) FROM purchases')
    dropdb --if-exists "$db"
    createdb "$db"
    pg_dump --schema-only "$DB" | psql -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null
    pg_dump --data-only -t branches -t products "$DB" | psql -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null
    sync
    psql -q -d "$db" -c 'CHECKPOINT'
    started=$(now)
    psql -X -q -v ON_ERROR_STOP=1 -d "$db" >"$WORK/ceiling.log" <<SQL
BEGIN;
SELECT icash_bulk_load_begin();
\copy purchases (id, branch_id, customer_id, purchased_at, total) FROM '$dir/purchases.bin' (FORMAT binary)
\copy purchase_lines (purchase_id, product_id, position, unit_price) FROM '$dir/lines.bin' (FORMAT binary)
\copy icash_load_branch_hours (branch_id, hour, purchases, revenue) FROM '$dir/branch_hours.bin' (FORMAT binary)
\copy icash_load_product_hours (product_id, branch_id, hour, units) FROM '$dir/product_hours.bin' (FORMAT binary)
\copy icash_load_customers (id, purchases, spent, first_purchase, last_purchase) FROM '$dir/customers.bin' (FORMAT binary)
\copy icash_load_customer_branches (branch_id, customer_id, purchases) FROM '$dir/customer_branches.bin' (FORMAT binary)
SELECT icash_bulk_load_finish($last_id, false);
SELECT icash_rebuild_business_days(NULL);
ROLLBACK;
SQL
    seconds=$(minus "$(now)" "$started")
    record kind=load_ceiling "purchases=${loaded:-0}" "seconds=$seconds"
    log "  PostgreSQL alone: $seconds s"
    dropdb "$db"
    rm -rf "$dir"
}

# --- Build, data, database -------------------------------------------------------------------

mkdir -p "$WORK"
: >"$RESULTS"
log "building the release examples"
(cd "$ROOT" && cargo build --release --examples --quiet)

if [[ $REUSE_DB == 1 ]]; then
    log "reusing the database $DB and $WORK/data"
else
    log "generating $PURCHASES purchases by $CUSTOMERS customers"
    "$BIN/gen-data" --purchases "$PURCHASES" --customers "$CUSTOMERS" --seed 42 --out "$WORK/data" >&2

    log "recreating the database $DB"
    dropdb --if-exists "$DB"
    createdb "$DB"
    # The generator's gigabyte and the dropped database's files are still being written back,
    # and PostgreSQL may owe a checkpoint: settle both, so that the load is timed alone.
    sync
    psql -q -d "$DB" -c 'CHECKPOINT'
fi

# --- Start (and load) ------------------------------------------------------------------------

log "starting the server on $URL"
if curl -s -o /dev/null "$URL/health"; then
    echo "something already answers at $URL: set ICASH_BENCH_ADDR" >&2
    exit 1
fi
: >"$WORK/rss.log"
start_server "$WORK/server.log"
if [[ $REUSE_DB != 1 ]]; then
    loaded=$(sed -n 's/.*loaded the data files.* purchases=\([0-9]*\).*/\1/p' "$WORK/server.log" | head -1)
    record kind=load method=server "purchases=${loaded:-0}" "seconds=$(minus "$LISTENING" "$STARTED")" \
        "load_seconds=$(minus "$LISTENING" "${MIGRATED:-$STARTED}")" \
        "rss_kib=$(rss_max_between "$STARTED" "$LISTENING")"
    log "listening after $(minus "$LISTENING" "$STARTED") s: $(grep 'loaded the data files' "$WORK/server.log" || true)"
    # The server validates the loaded rows' foreign keys in the background once it listens
    # (PgStore::validate_foreign_keys): wait for it, so that it does not disturb what follows.
    until grep -q "validated the loaded rows' foreign keys" "$WORK/server.log"; do
        if grep -q "fail a foreign key" "$WORK/server.log"; then
            echo "the loaded rows fail a foreign key" >&2
            exit 1
        fi
        sleep 0.2
    done
    record kind=validate "seconds=$(minus "$(now)" "$LISTENING")"
    log "foreign keys validated $(minus "$(now)" "$LISTENING") s after listening"
    load_ceiling
fi

# The server loads the files in one transaction: the tables have no statistics and no visibility
# map yet, which autovacuum would set at some random moment of the run. Do it now, timed.
t=$(now)
psql -q -d "$DB" -c 'VACUUM (ANALYZE)' -c 'CHECKPOINT'
t=$(minus "$(now)" "$t")
record kind=vacuum "seconds=$t"
log "VACUUM ANALYZE and CHECKPOINT took $t s"

# --- Analytics -------------------------------------------------------------------------------

# After a load the server's rollup builds the customer sets from the purchases (the periods'
# distinct customers are counted from the purchases until then): wait for it, timed.
t=$(now)
until [[ $(psql -tA -d "$DB" -c 'SELECT count(*) FROM customer_sets_rebuild') == 0 ]]; do
    sleep 0.2
done
t=$(minus "$(now)" "$t")
record kind=customer_sets "seconds=$t"
log "customer sets built (waited $t s); $(grep 'built the customer sets' "$WORK/server.log" | tail -1 || true)"

# What the data takes in PostgreSQL: the whole database, and the parts that serve the periods'
# distinct customers (the sets with their counts and cents, the cents alone, and the indexes
# that read one customer's purchases).
size() {
    record kind=size "what=$1" "purchases=$PURCHASES" "bytes=$(psql -tA -d "$DB" -c "SELECT $2")"
}
size "the whole database" "pg_database_size(current_database())"
size "customer sets with their counts and cents" "pg_total_relation_size('customer_sets')"
size "customer sets: the cents alone" "(SELECT sum(pg_column_size(spent)) FROM customer_sets)"
size "purchases by customer (index)" "pg_relation_size('purchases_customer_idx') + pg_relation_size('customers_number_idx')"

A="--warmup $ANALYTICS_WARMUP --duration $ANALYTICS_SECS"
log "analytics over the whole history, 8 clients"
loadgen "GET /analytics/unique-customers" 8 $A --scenario /analytics/unique-customers
pgb "GET /analytics/unique-customers" 8 "$ANALYTICS_SECS" "$PGB/analytics_unique.sql"
loadgen "GET /analytics/loyal-customers?limit=100" 8 $A --scenario '/analytics/loyal-customers?limit=100'
pgb "GET /analytics/loyal-customers?limit=100" 8 "$ANALYTICS_SECS" "$PGB/analytics_loyal_page.sql"
loadgen "GET /analytics/top-products" 8 $A --scenario /analytics/top-products
pgb "GET /analytics/top-products" 8 "$ANALYTICS_SECS" "$PGB/analytics_top_products.sql"
loadgen "GET /analytics/statistics" 8 $A --scenario /analytics/statistics
pgb "GET /analytics/statistics" 8 "$ANALYTICS_SECS" "$PGB/analytics_statistics.sql"
loadgen "GET /dashboard" 8 $A --scenario /dashboard
pgb "GET /dashboard" 8 "$ANALYTICS_SECS" "$PGB/analytics_dashboard.sql"
loadgen "GET /cash-register/customers" 8 $A --scenario /cash-register/customers
pgb "GET /cash-register/customers" 8 "$ANALYTICS_SECS" "$PGB/analytics_customers.sql"

# The cursor of the loyal list's page after `pages` pages of the list at `path` (its query
# string without the cursor), or nothing when the list ends sooner.
loyal_cursor() {
    local path=$1 pages=$2 cursor="" i
    for ((i = 0; i < pages; i++)); do
        cursor=$(curl -fsS "$URL$path${cursor:+&cursor=$cursor}" |
            python3 -c 'import json, sys; print(json.load(sys.stdin).get("next_cursor") or "")')
        [[ -n $cursor ]] || break
    done
    echo "$cursor"
}

# The loyal list's other shapes, each judged against its whole history's below: every customer
# with a purchase (the longest list), and the tenth page of a hundred.
loyal_shapes() {
    local label=$1 filter=$2 cursor
    loadgen "GET /analytics/loyal-customers?limit=100&min_purchases=1$label" 8 $A \
        --scenario "/analytics/loyal-customers?limit=100&min_purchases=1$filter"
    cursor=$(loyal_cursor "/analytics/loyal-customers?limit=100$filter" 9)
    if [[ -n $cursor ]]; then
        loadgen "GET /analytics/loyal-customers?limit=100&page=10$label" 8 $A \
            --scenario "/analytics/loyal-customers?limit=100&cursor=$cursor$filter"
    fi
}
loyal_shapes "" ""

FROM=2025-01-01T10:00:00Z
for days in 1 7 30 365; do
    to=$(date -u -d "2025-01-01T10:00:00Z + $days days" +%Y-%m-%dT%H:%M:%SZ)
    period="from=$FROM&to=$to"
    log "analytics over $days day(s), $period, 8 clients"
    # The period's first ask, before this server keeps anything made of its sets (docs/design.md,
    # "What a server keeps"): one request, shown beside the runs that follow.
    loadgen "GET /analytics/unique-customers ${days}d, first ask" 1 --requests 1 --warmup 0 \
        --scenario "/analytics/unique-customers?$period"
    loadgen "GET /analytics/statistics ${days}d" 8 $A --scenario "/analytics/statistics?$period"
    pgb "GET /analytics/statistics ${days}d" 8 "$ANALYTICS_SECS" "$PGB/analytics_statistics_period.sql" -D "from=$FROM" -D "to=$to"
    loadgen "GET /analytics/top-products ${days}d" 8 $A --scenario "/analytics/top-products?$period"
    pgb "GET /analytics/top-products ${days}d" 8 "$ANALYTICS_SECS" "$PGB/analytics_top_products_period.sql" -D "from=$FROM" -D "to=$to"
    loadgen "GET /analytics/unique-customers ${days}d" 8 $A --scenario "/analytics/unique-customers?$period"
    pgb "GET /analytics/unique-customers ${days}d" 8 "$ANALYTICS_SECS" "$PGB/analytics_unique_period.sql" -D "from=$FROM" -D "to=$to"
    loadgen "GET /analytics/loyal-customers?limit=100 ${days}d, first ask" 1 --requests 1 --warmup 0 \
        --scenario "/analytics/loyal-customers?limit=100&$period"
    loadgen "GET /analytics/loyal-customers?limit=100 ${days}d" 8 $A --scenario "/analytics/loyal-customers?limit=100&$period"
    # Counting a year's loyal customers from its purchases takes seconds a transaction at 1M
    # purchases, a minute at 10M: shown for the shorter periods only.
    if ((days <= 30)); then
        pgb "GET /analytics/loyal-customers?limit=100 ${days}d" 8 "$ANALYTICS_SECS" "$PGB/analytics_loyal_period.sql" -D "from=$FROM" -D "to=$to"
    fi
    loyal_shapes " ${days}d" "&$period"
    loadgen "GET /dashboard ${days}d" 8 $A --scenario "/dashboard?$period"
    if ((days <= 30)); then
        pgb "GET /dashboard ${days}d" 8 "$ANALYTICS_SECS" "$PGB/analytics_dashboard_period.sql" -D "from=$FROM" -D "to=$to"
    fi
done
to30=$(date -u -d "$FROM + 30 days" +%Y-%m-%dT%H:%M:%SZ)
loadgen "GET /analytics/statistics?supermarket_id=2 30d" 8 $A \
    --scenario "/analytics/statistics?supermarket_id=2&from=$FROM&to=$to30"
pgb "GET /analytics/statistics?supermarket_id=2 30d" 8 "$ANALYTICS_SECS" "$PGB/analytics_statistics_branch_period.sql" \
    -D branch=2 -D "from=$FROM" -D "to=$to30"

# Sales over time: the generated year by day, from the business days' aggregate, for the chain
# and one branch (report.py judges them against the whole history's statistics above).
log "sales over time, a year by day, 8 clients"
year="from_date=2025-01-01&to_date=2025-12-31"
loadgen "GET /analytics/sales?granularity=day 365d" 8 $A --scenario "/analytics/sales?granularity=day&$year"
loadgen "GET /analytics/sales?granularity=day&supermarket_id=2 365d" 8 $A \
    --scenario "/analytics/sales?granularity=day&supermarket_id=2&$year"

# Every loyal customer in one answer: a bounded number of requests, as it is large.
log "the unpaged loyal customers, 8 clients, 16 requests"
loadgen "GET /analytics/loyal-customers (unpaged)" 8 --warmup 0 --requests 16 --scenario /analytics/loyal-customers

# --- Plans of the costly queries -------------------------------------------------------------

log "plans of the costly queries"
to365=$(date -u -d "$FROM + 365 days" +%Y-%m-%dT%H:%M:%SZ)
{
    for script in analytics_unique_period analytics_loyal_period analytics_statistics_period analytics_top_products_period; do
        echo "== $script.sql, 365 days ($FROM to $to365)"
        # The script's one statement, with its variables written in, explained.
        {
            echo 'EXPLAIN (ANALYZE, BUFFERS)'
            sed -e "s/:from::timestamptz/'$FROM'::timestamptz/g" -e "s/:to::timestamptz/'$to365'::timestamptz/g" \
                -e '/^--/d' "$PGB/$script.sql"
        } | psql -X -d "$DB"
    done
    echo "== unique customers of branch 2 (whole history)"
    psql -X -d "$DB" -c "EXPLAIN (ANALYZE, BUFFERS) SELECT count(DISTINCT p.customer_id) FROM purchases p
        WHERE (2 IS NULL OR p.branch_id = 2)"
    echo "== unique customers over 1 day, as a generic plan (what a poisoned prepared statement runs)"
    psql -X -d "$DB" <<SQL
PREPARE unique_customers(integer, timestamptz, timestamptz) AS
    SELECT count(DISTINCT p.customer_id) FROM purchases p
    WHERE (\$1::integer IS NULL OR p.branch_id = \$1)
      AND (\$2::timestamptz IS NULL OR p.purchased_at >= \$2)
      AND (\$3::timestamptz IS NULL OR p.purchased_at < \$3);
SET plan_cache_mode = force_custom_plan;
EXPLAIN (ANALYZE, BUFFERS) EXECUTE unique_customers(2, NULL, NULL);
EXPLAIN (ANALYZE, BUFFERS) EXECUTE unique_customers(NULL, '$FROM', '$(date -u -d "$FROM + 1 day" +%Y-%m-%dT%H:%M:%SZ)');
SET plan_cache_mode = force_generic_plan;
EXPLAIN (ANALYZE, BUFFERS) EXECUTE unique_customers(NULL, '$FROM', '$(date -u -d "$FROM + 1 day" +%Y-%m-%dT%H:%M:%SZ)');
SQL
    echo "== loyal customers, unpaged (whole history)"
    psql -X -d "$DB" -c "EXPLAIN (ANALYZE, BUFFERS) SELECT id, purchases, spent, first_purchase, last_purchase
        FROM customers WHERE purchases >= 3 ORDER BY purchases DESC, spent DESC, id"
} >"$WORK/explain.txt" 2>&1

# --- One branch, on a restarted server --------------------------------------------------------

# The filtered analytics share one prepared statement per analytic, whatever the filter: once a
# connection has run it five times for a branch alone, PostgreSQL may keep a generic plan that
# cannot use the period's index. Restart, so that the branch's queries come first, then measure
# the 1-day period again.
stop_server
start_server "$WORK/server-branch.log"
log "analytics of one branch, 8 clients, on a restarted server"
loadgen "GET /analytics/statistics?supermarket_id=2" 8 $A --scenario '/analytics/statistics?supermarket_id=2'
loadgen "GET /analytics/top-products?supermarket_id=2" 8 $A --scenario '/analytics/top-products?supermarket_id=2'
loadgen "GET /analytics/unique-customers?supermarket_id=2" 8 $A --scenario '/analytics/unique-customers?supermarket_id=2'
to1=$(date -u -d "$FROM + 1 day" +%Y-%m-%dT%H:%M:%SZ)
# Their ceilings are measured again here, beside them: the machine has changed since the first
# 1-day runs (the year-long scans and the unpaged lists came in between).
loadgen "GET /analytics/unique-customers 1d, after the branch's" 8 $A \
    --scenario "/analytics/unique-customers?from=$FROM&to=$to1"
pgb "GET /analytics/unique-customers 1d, after the branch's" 8 "$ANALYTICS_SECS" "$PGB/analytics_unique_period.sql" \
    -D "from=$FROM" -D "to=$to1"
loadgen "GET /analytics/statistics 1d, after the branch's" 8 $A \
    --scenario "/analytics/statistics?from=$FROM&to=$to1"
pgb "GET /analytics/statistics 1d, after the branch's" 8 "$ANALYTICS_SECS" "$PGB/analytics_statistics_period.sql" \
    -D "from=$FROM" -D "to=$to1"

# --- Purchases, on a restarted server --------------------------------------------------------

stop_server
start_server "$WORK/server-purchases.log"
# The bare-insert ceiling: the purchase's rows written by minimal.sql into tables with the same
# columns, keys and indexes as the server's, but no foreign keys, triggers or aggregates (LIKE
# copies none of them), so that what the aggregates cost the write path is measured. The tables
# start empty: their indexes stay small, which makes the ceiling higher, never lower.
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" <<'SQL'
DROP SCHEMA IF EXISTS icash_bare CASCADE;
CREATE SCHEMA icash_bare;
CREATE TABLE icash_bare.customers (LIKE public.customers INCLUDING ALL);
CREATE TABLE icash_bare.purchases (LIKE public.purchases INCLUDING ALL);
CREATE TABLE icash_bare.purchase_lines (LIKE public.purchase_lines INCLUDING ALL);
SQL
P="--warmup 2 --duration $PURCHASE_SECS --customer-pool $WORK/data/purchases.csv"
# Each run starts right after a checkpoint: the WAL they write (max_wal_size is 1 GB by default)
# would otherwise start one in the middle of whichever run comes next, and the three runs that
# are compared would not see the same machine.
settle() { psql -XAtqc CHECKPOINT -d "$DB"; }
# The three runs take turns, PURCHASE_ROUNDS times: the machine's speed drifts by tens of
# percent within minutes, and report.py compares the medians of the rounds.
for clients in 8 32; do
    for round in $(seq "$PURCHASE_ROUNDS"); do
        log "purchases, $clients clients, round $round of $PURCHASE_ROUNDS"
        settle
        loadgen "POST /cash-register/purchase" "$clients" $P --scenario purchase
        settle
        pgb "record_one" "$clients" "$PURCHASE_SECS" "$PGB/record_one.sql"
        settle
        pgb "minimal" "$clients" "$PURCHASE_SECS" "$PGB/minimal.sql"
        if [[ $clients == 32 ]]; then
            settle
            PGOPTIONS="$PGOPTIONS -c search_path=icash_bare" \
                pgb "bare" "$clients" "$PURCHASE_SECS" "$PGB/minimal.sql"
        fi
        if [[ $clients == 8 ]]; then
            settle
            # A seed of the round's own: each round's client ids are new, so every round records
            # its purchases rather than finding them recorded by an earlier round.
            loadgen "POST /cash-register/purchases/batch" 1 $P --scenario batch --batch-size 1000 \
                --seed "$round"
        fi
    done
done

psql -X -q -d "$DB" -c 'DROP SCHEMA icash_bare CASCADE'

# --- What a key check costs ------------------------------------------------------------------

# The same purchases at 8 clients on a server run open and on one that requires keys (loadgen
# sending an administrator key: every role's check is the same cached lookup and rate check),
# taking turns on restarted servers.
for round in $(seq "$PURCHASE_ROUNDS"); do
    log "purchases with and without a key, round $round of $PURCHASE_ROUNDS"
    stop_server
    SERVER_AUTH=off start_server "$WORK/server-open.log"
    settle
    loadgen "POST /cash-register/purchase, open" 8 $P --scenario purchase
    stop_server
    SERVER_AUTH=required start_server "$WORK/server-keyed.log"
    settle
    ICASH_LOADGEN_KEY="$BENCH_KEY" loadgen "POST /cash-register/purchase, with a key" 8 $P --scenario purchase
done

# --- The table -------------------------------------------------------------------------------

stop_server
echo
python3 "$ROOT/bench/report.py" "$RESULTS" "$WORK/rss.log" "$PURCHASES" "$CUSTOMERS" | tee "$WORK/table.md"
