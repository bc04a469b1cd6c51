"""The table of a bench/run.sh run, in markdown, from its results.jsonl and rss.log.

    python3 bench/report.py RESULTS.jsonl RSS.log PURCHASES CUSTOMERS

Every target is a ratio measured in the same run (BENCHMARKS.md, "Targets", says why each):
- POST /cash-register/purchase: throughput >= 80% of pgbench running the server's statement
  (record_one.sql) and >= 60% of pgbench running a minimal transaction (minimal.sql), at the
  same concurrency; its p99 at 8 clients at most 1.3 times record_one's; at 32 clients >= 30%
  of pgbench writing the same rows into bare tables (no triggers, foreign keys or aggregates),
  60% being the goal. These runs take turns in rounds; each figure is the median of its rounds, so that
  one round caught in the machine's slow moment does not decide;
- the same purchases sent with a key, to a server that requires keys: >= 95% of the rate on a
  server run open (the rounds take turns), as a key check is a cached lookup;
- the load: PostgreSQL alone replaying its COPYs and finish takes >= 90% of the server's time;
- the analytics read from aggregates (whole history, top products over any period): >= 20% of
  pgbench's rate on the same statement, the rest being the fixed cost of a request;
- one branch's analytics over its whole history: p50 within 80% of the same endpoint's over the
  chain's whole history;
- the distinct-customer figures over a period (unique and loyal customers, and the statistics and
  dashboard that include them): p50 at most 3x and p99 at most 5x the same endpoint's over the
  whole history in the same run (pgbench's figures on the same statements are shown beside);
- the sales over time, a year by day (chain-wide and one branch), read from the business days'
  aggregate: p50 within 3x of the whole-history /analytics/statistics' p50 in the same run;
- the server's resident size while serving <= 64 MiB (an amount, not a time);
- POST /cash-register/purchases/batch, batches of 1,000 from 1 client: purchases per second
  >= 100% of the single purchases' at 8 clients (the median rounds of each).
"""

import json
import os
import statistics
import platform
import subprocess
import sys

PURCHASE = "POST /cash-register/purchase"
BATCH = "POST /cash-register/purchases/batch"
BATCH_SHARE = 1.0
LOAD_SHARE = 0.9
# The server's p99 over pgbench's on the same statement: a latency, so the limit is a ceiling.
PURCHASE_P99_LIMIT = 1.3
# Purchases per second at 32 clients over pgbench's bare inserts (no triggers, foreign keys or
# aggregates): the floor, and where the write path should be.
BARE_INSERT_SHARE = 0.3
BARE_INSERT_GOAL = 0.6
AGGREGATE_SHARE = 0.2
BRANCH_SHARE = 0.8
RSS_TARGET_MIB = 64.0
# Purchases sent with a key, and the same on a server run open: a key check is a cached lookup
# and a rate check, never a database round trip.
KEYED_PURCHASE = f"{PURCHASE}, with a key"
OPEN_PURCHASE = f"{PURCHASE}, open"
KEY_CHECK_SHARE = 0.95
# The analytics over the whole history, measured first, on the server that loaded the data.
WHOLE_HISTORY = {
    "GET /analytics/unique-customers",
    "GET /analytics/loyal-customers?limit=100",
    "GET /analytics/top-products",
    "GET /analytics/statistics",
    "GET /dashboard",
    "GET /cash-register/customers",
}
# A distinct-customer figure over a period, against the same endpoint over the whole history:
# at most these many times its median and its p99.
PERIOD_P50_FACTOR = 3.0
PERIOD_P99_FACTOR = 5.0
# The sales over time by day, against the whole history's statistics: at most this many times
# its median latency.
SERIES = "GET /analytics/sales?granularity=day"
SERIES_FACTOR = 3.0
DISTINCT_OVER_PERIOD = ("/analytics/unique-customers", "/analytics/loyal-customers", "/analytics/statistics", "/dashboard")


def counts_distinct_over_a_period(name):
    """Whether a run's request counts distinct customers over a period ("... 30d")."""
    path, *rest = name.split(" ")[1:]
    return path.split("?")[0] in DISTINCT_OVER_PERIOD and any(word.rstrip(",").endswith("d") and word.rstrip(",")[:-1].isdigit() for word in rest)


def main():
    results_path, rss_path, purchases, customers = sys.argv[1:5]
    rows = [json.loads(line) for line in open(results_path) if line.strip()]
    rss = []
    for line in open(rss_path):
        parts = line.split()
        if len(parts) == 2:
            rss.append((float(parts[0]), int(parts[1])))

    def rss_mib(start=None, end=None):
        # The sampler runs every 0.2 s: widen a shorter window to catch a sample.
        if start is not None and end is not None and end - start < 0.5:
            start, end = start - 0.25, end + 0.25
        values = [kib for t, kib in rss if (start is None or t >= start) and (end is None or t <= end)]
        return max(values) / 1024 if values else float("nan")

    http = {(r["name"], r["clients"]): r for r in rows if r["kind"] == "http"}
    pgbench = {(r["name"], r["clients"]): r for r in rows if r["kind"] == "pgbench"}

    def rounds(kind, name, clients):
        """The runs of a measurement repeated in rounds, in the order they ran."""
        return [r for r in rows if r["kind"] == kind and r["name"] == name and r["clients"] == clients]
    load = next((r for r in rows if r["kind"] == "load"), None)
    vacuum = next((r for r in rows if r["kind"] == "vacuum"), None)
    validate = next((r for r in rows if r["kind"] == "validate"), None)

    table = []

    def add(benchmark, figure, ceiling="", ratio="", target="", result=""):
        table.append((benchmark, figure, ceiling, ratio, target, result))

    def verdict(ok, run=None):
        text = "PASS" if ok else "**FAIL**"
        if run is not None and run["errors"]:
            text = f"**FAIL** ({run['errors']} errors)"
        return text

    def add_rss_limit(benchmark, runs):
        # The server's largest resident size while these runs went on, against the target.
        used = max(rss_mib(r["started"], r["ended"]) for r in runs)
        add(benchmark, f"{used:.1f} MiB", target=f"<= {RSS_TARGET_MIB:.0f} MiB", result=verdict(used <= RSS_TARGET_MIB))

    if load:
        per_second = load["purchases"] / load["load_seconds"] if load["load_seconds"] else 0
        ceiling = next((r for r in rows if r["kind"] == "load_ceiling"), None)
        ceiling_text, shown, result = "", "", "no reference"
        if ceiling and ceiling["seconds"] and load["load_seconds"]:
            ceiling_text = (
                f"PostgreSQL alone, the same COPYs and finish: "
                f"{ceiling['purchases'] / ceiling['seconds']:,.0f} purchases/s ({ceiling['seconds']:.1f} s)"
            )
            share = ceiling["seconds"] / load["load_seconds"]
            shown, result = percent(share), verdict(share >= LOAD_SHARE)
        add(
            f"load CSV at first start ({load['purchases']:,} purchases)",
            f"{per_second:,.0f} purchases/s ({load['load_seconds']:.1f} s loading, "
            f"{load['seconds']:.1f} s from start to listening)",
            ceiling_text,
            shown,
            target=f">= {LOAD_SHARE:.0%}",
            result=result,
        )
    if validate:
        add(
            "foreign keys of the loaded rows validated, in the background after listening",
            f"{validate['seconds']:.1f} s",
            result="info",
        )
    if vacuum:
        add("VACUUM (ANALYZE) + CHECKPOINT after the load", f"{vacuum['seconds']:.1f} s", result="info")
    sets = next((r for r in rows if r["kind"] == "customer_sets"), None)
    if sets:
        add("customer sets, counts and cents: waited for the rollup to build them from the loaded purchases, after the VACUUM", f"{sets['seconds']:.1f} s", result="info")
    for size in (r for r in rows if r["kind"] == "size"):
        millions = size["purchases"] / 1e6
        add(
            f"PostgreSQL size per million purchases: {size['what']}",
            f"{size['bytes'] / millions / 2**20:,.1f} MiB ({size['bytes'] / 2**20:,.0f} MiB in all)",
            result="info",
        )

    for clients in (8, 32):
        runs = rounds("http", PURCHASE, clients)
        if not runs:
            continue
        run = median_run(runs, "rps")
        run["errors"] = sum(r["errors"] for r in runs)
        run["p99_ms"] = statistics.median(r["p99_ms"] for r in runs)
        figure = (
            f"{run['rps']:,.0f} req/s (p50 {run['p50_ms']:.1f} / p99 {run['p99_ms']:.1f} ms); "
            f"rounds: {listed(r['rps'] for r in runs)}"
        )
        for script, share in (("record_one", 0.8), ("minimal", 0.6)):
            ceilings = rounds("pgbench", script, clients)
            if not ceilings:
                continue
            ceiling = median_run(ceilings, "tps")
            ratio = run["rps"] / ceiling["tps"] if ceiling["tps"] else 0
            add(
                f"{PURCHASE}, {clients} clients vs pgbench {script}.sql, median of {len(runs)} rounds",
                figure,
                f"{ceiling['tps']:,.0f} tps (p50 {ceiling['p50_ms']:.1f} / p99 {ceiling['p99_ms']:.1f} ms); "
                f"rounds: {listed(r['tps'] for r in ceilings)}",
                percent(ratio),
                f">= {share:.0%}",
                verdict(ratio >= share, run),
            )
        ceilings = rounds("pgbench", "record_one", clients)
        if clients == 8:
            if not ceilings:
                continue
            ceiling_p99 = statistics.median(r["p99_ms"] for r in ceilings)
            times = run["p99_ms"] / ceiling_p99 if ceiling_p99 else float("inf")
            add(
                f"{PURCHASE}, 8 clients, p99 latency (median of the rounds')",
                f"{run['p99_ms']:.1f} ms",
                f"record_one: {ceiling_p99:.1f} ms",
                f"{times:.2f}x",
                f"<= {PURCHASE_P99_LIMIT:.1f}x",
                verdict(times <= PURCHASE_P99_LIMIT, run),
            )
        else:
            bare = rounds("pgbench", "bare", clients)
            if bare:
                ceiling = median_run(bare, "tps")
                ratio = run["rps"] / ceiling["tps"] if ceiling["tps"] else 0
                add(
                    f"{PURCHASE}, {clients} clients vs pgbench bare inserts (no triggers, foreign keys "
                    f"or aggregates), median of {len(runs)} rounds",
                    figure,
                    f"{ceiling['tps']:,.0f} tps (p99 {ceiling['p99_ms']:.1f} ms); "
                    f"rounds: {listed(r['tps'] for r in bare)}",
                    percent(ratio),
                    f">= {BARE_INSERT_SHARE:.0%} (goal {BARE_INSERT_GOAL:.0%})",
                    verdict(ratio >= BARE_INSERT_SHARE, run),
                )
            add_rss_limit("server VmRSS, max during the 32-client purchases", runs)

    open_runs, keyed_runs = rounds("http", OPEN_PURCHASE, 8), rounds("http", KEYED_PURCHASE, 8)
    if open_runs and keyed_runs:
        open_run, keyed = median_run(open_runs, "rps"), median_run(keyed_runs, "rps")
        keyed["errors"] = sum(r["errors"] for r in keyed_runs)
        ratio = keyed["rps"] / open_run["rps"] if open_run["rps"] else 0
        add(
            f"{PURCHASE} with a key vs on a server run open, 8 clients, median of {len(keyed_runs)} rounds",
            f"{keyed['rps']:,.0f} req/s (p50 {keyed['p50_ms']:.1f} / p99 {keyed['p99_ms']:.1f} ms); "
            f"rounds: {listed(r['rps'] for r in keyed_runs)}",
            f"open: {open_run['rps']:,.0f} req/s (p50 {open_run['p50_ms']:.1f} / p99 {open_run['p99_ms']:.1f} ms); "
            f"rounds: {listed(r['rps'] for r in open_runs)}",
            percent(ratio),
            f">= {KEY_CHECK_SHARE:.0%}",
            verdict(ratio >= KEY_CHECK_SHARE, keyed),
        )

    batches = rounds("http", BATCH, 1)
    singles = rounds("http", PURCHASE, 8)
    if batches and singles:
        batch = median_run(batches, "rps")
        batch["errors"] = sum(r["errors"] for r in batches)
        per_purchase = [r["rps"] * r.get("purchases_per_request", 1) for r in batches]
        purchases_per_second = statistics.median(per_purchase)
        single = median_run(singles, "rps")
        ratio = purchases_per_second / single["rps"] if single["rps"] else 0
        add(
            f"{BATCH}, 1,000 a batch, 1 client vs {PURCHASE} at 8 clients, per purchase, median of {len(batches)} rounds",
            f"{purchases_per_second:,.0f} purchases/s (a batch p50 {batch['p50_ms']:.0f} / p99 {batch['p99_ms']:.0f} ms); "
            f"rounds: {listed(per_purchase)}",
            f"{single['rps']:,.0f} purchases/s",
            percent(ratio),
            f">= {BATCH_SHARE:.0%}",
            verdict(ratio >= BATCH_SHARE, batch),
        )

    for (name, clients), run in http.items():
        if name in (PURCHASE, BATCH, OPEN_PURCHASE, KEYED_PURCHASE):
            continue
        # A re-run "..., after the branch's" has the ceiling of the same request.
        ceiling = pgbench.get((name, clients)) or pgbench.get((name.split(", after")[0], clients))
        figure = f"p50 {run['p50_ms']:.2f} / p99 {run['p99_ms']:.2f} ms, {rate(run['rps'])} req/s"
        if run["mean_body_bytes"] >= 100_000:
            figure += f", {run['mean_body_bytes'] / 1e6:.1f} MB a response"
            figure += f", VmRSS up to {rss_mib(run['started'], run['ended']):.0f} MiB"
            if "first_byte_p50_ms" in run:
                # A streamed answer: when its first bytes come, apart from when its last do.
                figure += (
                    f", first byte p50 {run['first_byte_p50_ms']:.2f} / p99 {run['first_byte_p99_ms']:.2f} ms"
                )
        shown, target, ok = judge(name, clients, run, ceiling, http, rss_mib)
        if ok is None:
            verdict_text = "info"
        else:
            verdict_text = verdict(ok, run)
        add(
            f"{name} ({clients} clients)",
            figure,
            f"{rate(ceiling['tps'])} tps (p50 {ceiling['p50_ms']:.2f} / p99 {ceiling['p99_ms']:.2f} ms)"
            if ceiling else "",
            shown,
            target,
            verdict_text,
        )

    if load and load.get("rss_kib"):
        add("server VmRSS, max while loading the CSV", f"{load['rss_kib'] / 1024:.1f} MiB", result="info")
    # The whole-history analytics run first, on the server that loaded the files: what the
    # load leaves resident stays for the server's whole life.
    served = [r for (name, _), r in http.items() if name in WHOLE_HISTORY]
    if load and served:
        add_rss_limit(
            "server VmRSS after its first-start load, max while serving the whole-history analytics (8 clients)",
            served,
        )
    # Over periods the server keeps what it made of the customer sets (at most 16 MiB of them):
    # the same limit holds while it does.
    periods = [r for (name, clients), r in http.items() if clients == 8 and counts_distinct_over_a_period(name)]
    if periods:
        add_rss_limit("server VmRSS, max while serving the analytics over periods (8 clients)", periods)
    add("server VmRSS, max over the whole run", f"{rss_mib():.1f} MiB", result="info")

    print(f"### {int(purchases):,} purchases, {int(customers):,} customers")
    print()
    print(
        f"{os.cpu_count()} CPUs, {platform.machine()}; {postgres_version()}; "
        "pgbench ceilings run the same SQL with -M prepared -j 2 at the same concurrency; "
        "ratio = HTTP req/s / pgbench tps (for the load: PostgreSQL alone's seconds / the server's). "
        "Periods start 2025-01-01T10:00:00Z."
    )
    print()
    print("| benchmark | figure | ceiling | ratio | target | result |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in table:
        print("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")


def judge(name, clients, run, ceiling, http, rss_mib):
    """The ratio shown for an analytics request, its target, and whether it is met (None when the
    request has no reference to be judged against); `rss_mib(start, end)` is the server's largest
    resident size in that window."""
    if counts_distinct_over_a_period(name):
        # Against the same endpoint over the whole history (the same filter of a branch, if
        # any), measured in this run: a period must cost about what the whole history does.
        path = name.split(" ")[1]
        whole = http.get((f"GET {path}", clients))
        if whole and whole["p50_ms"] and whole["p99_ms"]:
            p50 = run["p50_ms"] / whole["p50_ms"]
            p99 = run["p99_ms"] / whole["p99_ms"]
            return (
                f"p50 {p50:.2f}x / p99 {p99:.2f}x",
                f"p50 <= {PERIOD_P50_FACTOR:.0f}x, p99 <= {PERIOD_P99_FACTOR:.0f}x the whole history's",
                p50 <= PERIOD_P50_FACTOR and p99 <= PERIOD_P99_FACTOR,
            )
    if ceiling:
        share = run["rps"] / ceiling["tps"] if ceiling["tps"] else 0
        return percent(share), f">= {AGGREGATE_SHARE:.0%} of pgbench's rate", share >= AGGREGATE_SHARE
    if name.startswith(SERIES):
        statistics = http.get(("GET /analytics/statistics", clients))
        if statistics and statistics["p50_ms"]:
            factor = run["p50_ms"] / statistics["p50_ms"]
            return (
                f"{factor:.2f}x (p50)",
                f"p50 <= {SERIES_FACTOR:.0f}x the whole history's statistics'",
                factor <= SERIES_FACTOR,
            )
    path = name.split(" ")[1]
    if "?supermarket_id=" in path and len(name.split(" ")) == 2:
        # One branch over its whole history, against the chain's whole history in this run.
        chain = http.get((f"GET {path.split('?')[0]}", clients))
        if chain and run["p50_ms"]:
            share = chain["p50_ms"] / run["p50_ms"]
            return f"{percent(share)} (p50)", f"p50 >= {BRANCH_SHARE:.0%} of the whole history's", share >= BRANCH_SHARE
    if run["mean_body_bytes"] >= 100_000:
        used = rss_mib(run["started"], run["ended"])
        return "", f"VmRSS <= {RSS_TARGET_MIB:.0f} MiB", used <= RSS_TARGET_MIB
    return "", "", None


def median_run(runs, key):
    """A copy of the run whose `key` is the median of the runs' (the lower middle one of an even
    number), so that its other figures are from the same run."""
    ordered = sorted(runs, key=lambda r: r[key])
    return dict(ordered[(len(ordered) - 1) // 2])


def listed(per_second):
    """Throughputs of the rounds, in the order they ran."""
    return ", ".join(f"{value:,.0f}" for value in per_second)


def rate(per_second):
    """A throughput: whole numbers, but two decimals below 10 so that a slow endpoint's is legible."""
    return f"{per_second:,.0f}" if per_second >= 10 else f"{per_second:.2f}"


def percent(ratio):
    """A ratio as a percentage with one decimal, so that 79.6% never shows as 80%."""
    return f"{ratio * 100:.1f}%"


def postgres_version():
    try:
        out = subprocess.run(
            ["psql", "-XAtc", "SHOW server_version", "-d", "postgres"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        return f"PostgreSQL {out}"
    except (OSError, subprocess.CalledProcessError):
        return "PostgreSQL (version unknown)"


if __name__ == "__main__":
    main()
