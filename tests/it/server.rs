//! The example server as a process: it loads the reference files into PostgreSQL, answers the
//! contract's figures over HTTP, stops cleanly on SIGTERM, and on restart loads nothing twice.
//! It also refuses to start, with a message, on a database it cannot reach or a bad data file.

use std::process::Command;
use std::time::{Duration, Instant};

use icash::postgres::testing::TestDb;
use serde_json::json;

use crate::harness::{Server, Start};
use crate::support::{data_dir, seed_dir};

#[test]
fn the_server_loads_postgres_once_and_answers_the_reference_figures() {
    let Some(seed) = seed_dir() else { return };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(TestDb::new());
    let url = db.url();

    let server = Server::start(Some(&url), &seed);
    assert_eq!(server.get("/health")["status"], "healthy");
    let statistics = server.get("/analytics/statistics");
    assert_eq!(statistics["total_purchases"], 2183);
    assert_eq!(statistics["total_revenue"], json!(13608.9));
    assert_eq!(
        statistics["by_supermarket"][1],
        json!({"supermarket_id": 2, "purchase_count": 981, "revenue": 6152.7,
               "refunds": {"count": 0, "amount": 0.0}, "net_revenue": 6152.7})
    );
    assert_eq!(
        server.get("/analytics/unique-customers"),
        json!({"unique_customers": 1762})
    );
    assert_eq!(
        server.get("/analytics/loyal-customers")["loyal_customers_count"],
        142
    );
    let top = server.get("/analytics/top-products")["top_products"].clone();
    let units: Vec<(&str, u64)> = top
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["product_name"].as_str().unwrap(),
                p["units_sold"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(units, [("milk", 1823), ("eggs", 1812), ("bread", 1777)]);
    let (status, purchase) = server.request(
        "POST",
        "/cash-register/purchase",
        Some(r#"{"supermarket_id": 2, "user_id": "new", "items": [{"product_id": 1}, {"product_id": 3}]}"#),
    );
    assert_eq!(status, 201, "{purchase}");
    let logs = server.stop();
    assert!(logs.contains("loaded the data files"), "{logs}");
    let recorded = format!("purchase_id={}", purchase["purchase_id"]);
    let lines: Vec<&str> = logs.lines().filter(|l| l.contains(&recorded)).collect();
    assert!(
        lines.len() == 1 && lines[0].contains("answered status=201"),
        "one log line for the purchase, its answer with its id: {lines:?}"
    );

    let restarted = Server::start(Some(&url), &seed);
    let statistics = restarted.get("/analytics/statistics");
    assert_eq!(
        statistics["total_purchases"], 2184,
        "nothing was loaded twice"
    );
    assert_eq!(statistics["total_revenue"], json!(13613.4));
    let receipt = restarted.get(&format!(
        "/cash-register/purchases/{}",
        purchase["purchase_id"]
    ));
    assert_eq!(
        receipt,
        crate::support::untouched_receipt(&purchase),
        "the purchase survived the restart"
    );
    let logs = restarted.stop();
    assert!(logs.contains("already has purchases"), "{logs}");
    drop(db);
}

#[test]
fn the_server_refuses_to_start_on_an_unreachable_database() {
    let Start::Exited(status, logs) =
        Server::spawn(Some("postgres://postgres@127.0.0.1:9/icash"), &data_dir()).listen()
    else {
        panic!("the server must not start without its database");
    };
    assert!(!status.success());
    assert!(
        logs.contains("cannot use the database at DATABASE_URL"),
        "{logs}"
    );
    assert!(!logs.contains("listening"), "{logs}");
}

#[test]
fn the_server_refuses_to_start_on_a_bad_data_file() {
    let Some(seed) = seed_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        seed.join("products_list.csv"),
        dir.path().join("products_list.csv"),
    )
    .unwrap();
    let purchases = std::fs::read_to_string(seed.join("purchases.csv")).unwrap();
    let broken = purchases.replacen("SMKT003", "SMKT042", 1);
    std::fs::write(dir.path().join("purchases.csv"), broken).unwrap();
    let Start::Exited(status, logs) = Server::spawn(None, dir.path()).listen() else {
        panic!("the server must not start with a bad data file");
    };
    assert!(!status.success());
    assert!(
        logs.contains("purchases.csv, line 2: unknown branch code \"SMKT042\""),
        "{logs}"
    );
}

/// Makes `purchases` purchases with the project's generator into a temporary folder.
fn generated_data(purchases: u32) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "run",
            "--quiet",
            "--example",
            "gen-data",
            "--",
            "--purchases",
        ])
        .arg(purchases.to_string())
        .args(["--customers", "50000", "--seed", "7", "--out"])
        .arg(dir.path())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap();
    assert!(status.success(), "the generator runs");
    dir
}

fn count_purchases(runtime: &tokio::runtime::Runtime, db: &TestDb) -> i64 {
    runtime
        .block_on(sqlx::query_scalar("SELECT count(*) FROM purchases").fetch_one(db.pool()))
        .unwrap()
}

#[test]
fn a_server_killed_while_loading_loads_everything_at_its_next_start() {
    const PURCHASES: u32 = 100_000;
    let data = generated_data(PURCHASES);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(TestDb::new());

    // Started in the background: it connects, migrates, and starts the load before it listens.
    let mut loading = Server::spawn(Some(&db.url()), data.path());
    // Kill it once the load is under way: the products are written first, in the same
    // transaction, so wait until the server's session holds the import lock.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !runtime.block_on(import_in_progress(&db)) {
        assert!(Instant::now() < deadline, "the load never started");
        assert!(loading.is_running(), "the server stopped before loading");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(loading.is_running(), "still loading when killed");
    loading.signal("KILL");
    loading.wait_exit(Duration::from_secs(10));
    assert_eq!(
        count_purchases(&runtime, &db),
        0,
        "an interrupted load leaves nothing behind"
    );

    let server = Server::start(Some(&db.url()), data.path());
    assert_eq!(
        server.get("/analytics/statistics")["total_purchases"],
        PURCHASES
    );
    let logs = server.stop();
    assert!(logs.contains("loaded the data files"), "{logs}");
    assert_eq!(count_purchases(&runtime, &db), i64::from(PURCHASES));
    drop(db);
}

/// Whether a session holds the bulk load's advisory lock.
async fn import_in_progress(db: &TestDb) -> bool {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted)",
    )
    .fetch_one(db.pool())
    .await
    .unwrap()
}
