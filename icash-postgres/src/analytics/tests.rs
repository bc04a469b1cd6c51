//! The pgbench scripts in `bench/pgbench` are the benchmarks' ceilings: PostgreSQL alone running
//! the statements the server sends. These tests keep them the same statements, and keep each
//! statement made of several analytics made of those analytics' own texts.

use std::path::Path;

use super::customers::{TOP_CUSTOMERS, UNIQUE_CUSTOMERS};
use super::dashboard::DASHBOARD;
use super::loyal::{LOYAL_COUNT_WHOLE_HISTORY, LOYAL_CUSTOMERS, LOYAL_PAGE_WHOLE_HISTORY};
use super::products::PRODUCT_UNITS;
use super::shape::ByShape;
use super::statistics::STATISTICS;

/// The filter's parameters over the whole history.
const WHOLE: [&str; 3] = ["NULL::integer", "NULL::timestamptz", "NULL::timestamptz"];
/// Over a period given to pgbench with `-D from=.. -D to=..`, every branch.
const PERIOD: [&str; 3] = ["NULL::integer", ":from::timestamptz", ":to::timestamptz"];
/// Over a period, the branch given with `-D branch=..`.
const BRANCH_PERIOD: [&str; 3] = [":branch::integer", ":from::timestamptz", ":to::timestamptz"];

/// The distinct customers of a period, which the server counts from the customer sets and
/// binds into the dashboard's statement; pgbench gives a constant.
const UNIQUE: &str = "0::bigint";

/// The bounds of a period's cover, which the server computes (`customer_sets::bounds`) for the
/// statistics' statement to read the versions of the period's sets; pgbench gives none, so
/// that its function reads no set.
const NO_COVER: &str = "NULL::timestamptz[]";

/// A filter's parameters, then a first loyal page of `limit` entries, 3 purchases or more.
fn first_loyal_page(filter: [&'static str; 3], limit: &'static str) -> Vec<&'static str> {
    let page = ["3", "NULL::bigint", "NULL::numeric", "NULL::uuid", limit];
    filter.into_iter().chain(page).collect()
}

/// `text` with its white space folded to single spaces.
fn folded(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `statement` as a pgbench script: `$n` replaced by `parameters[n - 1]`.
fn script(statement: &str, parameters: &[&str]) -> String {
    let mut text = statement.to_owned();
    // From the last, so that `$1` never replaces the start of `$10`.
    for (index, value) in parameters.iter().enumerate().rev() {
        text = text.replace(&format!("${}", index + 1), value);
    }
    format!("{};", text.trim())
}

/// The script `bench/pgbench/{name}` without its comment lines.
fn read_script(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../bench/pgbench")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    text.lines()
        .filter(|line| !line.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_pgbench_ceilings_send_the_servers_statements() {
    let cases: [(&str, &str, Vec<&str>); 12] = [
        (
            "analytics_unique.sql",
            UNIQUE_CUSTOMERS.whole_history,
            WHOLE.to_vec(),
        ),
        (
            "analytics_unique_period.sql",
            UNIQUE_CUSTOMERS.period_all_branches,
            PERIOD.to_vec(),
        ),
        (
            "analytics_loyal_page.sql",
            LOYAL_CUSTOMERS.whole_history,
            first_loyal_page(WHOLE, "100"),
        ),
        (
            "analytics_loyal_period.sql",
            LOYAL_CUSTOMERS.period_all_branches,
            first_loyal_page(PERIOD, "100"),
        ),
        ("analytics_top_products.sql", PRODUCT_UNITS, WHOLE.to_vec()),
        (
            "analytics_top_products_period.sql",
            PRODUCT_UNITS,
            PERIOD.to_vec(),
        ),
        (
            "analytics_statistics.sql",
            STATISTICS.whole_history,
            WHOLE.to_vec(),
        ),
        (
            "analytics_statistics_period.sql",
            STATISTICS.period_all_branches,
            [PERIOD.as_slice(), &[NO_COVER]].concat(),
        ),
        (
            "analytics_statistics_branch_period.sql",
            STATISTICS.period_one_branch,
            [BRANCH_PERIOD.as_slice(), &[NO_COVER]].concat(),
        ),
        (
            "analytics_dashboard.sql",
            DASHBOARD.whole_history,
            first_loyal_page(WHOLE, "10"),
        ),
        (
            "analytics_dashboard_period.sql",
            DASHBOARD.period_all_branches,
            [first_loyal_page(PERIOD, "10"), vec![UNIQUE]].concat(),
        ),
        (
            "analytics_customers.sql",
            TOP_CUSTOMERS,
            vec!["NULL::bigint", "NULL::uuid", "20"],
        ),
    ];
    for (name, statement, parameters) in cases {
        let expected = script(statement, &parameters);
        assert!(
            folded(&read_script(name)) == folded(&expected),
            "bench/pgbench/{name} no longer sends the server's statement; it should read:\n{expected}"
        );
    }
}

/// Each shape's text of a statement, with the shape's name.
fn shapes(statement: &ByShape) -> [(&'static str, &'static str); 4] {
    [
        ("whole_history", statement.whole_history),
        ("branch_history", statement.branch_history),
        ("period_all_branches", statement.period_all_branches),
        ("period_one_branch", statement.period_one_branch),
    ]
}

/// Whether `part` is inside `whole`, white space aside.
fn contains(whole: &str, part: &str) -> bool {
    let squeezed = |text: &str| text.split_whitespace().collect::<String>();
    squeezed(whole).contains(&squeezed(part))
}

#[test]
fn a_statement_of_several_analytics_holds_each_ones_own_text() {
    let by_shape = shapes(&DASHBOARD)
        .into_iter()
        .zip(shapes(&STATISTICS))
        .zip(shapes(&LOYAL_CUSTOMERS))
        .zip(shapes(&UNIQUE_CUSTOMERS));
    for ((((shape, dashboard), (_, statistics)), (_, loyal)), (_, unique)) in by_shape {
        if shape.starts_with("period") {
            // Counted by the server from the customer sets: the statistics read what the sets
            // say of the period beside their figures (`$4` the cover's bounds) and leave the
            // count out; the dashboard's one statement takes it bound as `$9`, after the loyal
            // page's parameters.
            assert!(
                contains(statistics, "icash_customer_set_versions($1, $2, $3, $4)"),
                "statistics {shape}"
            );
            let figures = statistics
                .split_once("FROM (")
                .and_then(|(_, rest)| rest.rsplit_once(") AS t"))
                .map(|(figures, _)| figures)
                .expect("the statistics' figures, inside the statement that adds the sets");
            let in_dashboard = figures.replace("NULL::bigint", "$9::bigint");
            assert!(contains(dashboard, &in_dashboard), "dashboard {shape}");
        } else {
            assert!(contains(statistics, unique), "statistics {shape}");
            assert!(contains(dashboard, statistics), "dashboard {shape}");
        }
        assert!(contains(dashboard, loyal), "dashboard {shape}");
        assert!(contains(dashboard, PRODUCT_UNITS), "dashboard {shape}");
    }
    let loyal = LOYAL_CUSTOMERS.whole_history;
    assert!(contains(loyal, LOYAL_COUNT_WHOLE_HISTORY));
    assert!(contains(loyal, LOYAL_PAGE_WHOLE_HISTORY));
}
