//! More than one PostgreSQL, with real servers the tests start on private ports (see
//! `cluster`): reads answered by a streaming standby within the staleness bound and by the
//! primary past it, read-your-writes with the `icash-consistency` token, a standby that stops
//! never failing a read, and the primary killed in the middle of a stream of purchases under
//! synchronous replication, with every purchase answered 201 found on the promoted standby,
//! each idempotency key recorded once, and purchases recorded again within 10 s of the
//! promotion.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::Connection;

use crate::cluster::Cluster;
use crate::harness::{Client, Reply, Server};
use crate::support::{data_dir, untouched_receipt};

/// A purchase of products 1 and 2 at branch 2 by a new customer.
const PURCHASE: &str =
    r#"{"supermarket_id": 2, "user_id": "new", "items": [{"product_id": 1}, {"product_id": 2}]}"#;

/// The header of the consistency token.
const TOKEN: &str = "icash-consistency";

/// Runs SQL on the clusters from the test's thread.
struct Sql(tokio::runtime::Runtime);

impl Sql {
    fn new() -> Sql {
        Sql(tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap())
    }

    /// The first column of the first row of `query` on `cluster`, as text.
    fn text(&self, cluster: &Cluster, query: &str) -> Option<String> {
        self.0.block_on(async {
            let mut conn = sqlx::PgConnection::connect(&cluster.url()).await.unwrap();
            let value: Option<String> = sqlx::query_scalar(query)
                .fetch_one(&mut conn)
                .await
                .unwrap_or_else(|error| panic!("{query}: {error}"));
            let _ = conn.close().await;
            value
        })
    }

    /// Runs `statement` on `cluster`.
    fn execute(&self, cluster: &Cluster, statement: &str) {
        self.0.block_on(async {
            let mut conn = sqlx::PgConnection::connect(&cluster.url()).await.unwrap();
            sqlx::query(statement)
                .execute(&mut conn)
                .await
                .unwrap_or_else(|error| panic!("{statement}: {error}"));
            let _ = conn.close().await;
        })
    }

    /// A count from `query` on `cluster`, with `$1` bound to `ids`.
    fn count(&self, cluster: &Cluster, query: &str, ids: &[i64]) -> i64 {
        self.0.block_on(async {
            let mut conn = sqlx::PgConnection::connect(&cluster.url()).await.unwrap();
            sqlx::query_scalar(query)
                .bind(ids)
                .fetch_one(&mut conn)
                .await
                .unwrap_or_else(|error| panic!("{query}: {error}"))
        })
    }
}

/// Polls `done` every 50 ms until it holds, failing with `what` after `within`.
fn wait_until(within: Duration, what: &str, mut done: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < within, "{what} within {within:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    started.elapsed()
}

fn get(client: &Client, path: &str, token: Option<&str>) -> Reply {
    let headers: Vec<(&str, &str)> = token.map(|token| (TOKEN, token)).into_iter().collect();
    client
        .request_with("GET", path, None, &headers)
        .unwrap_or_else(|error| panic!("GET {path}: {error}"))
}

fn total_purchases(client: &Client, token: Option<&str>) -> u64 {
    let reply = get(client, "/analytics/statistics", token);
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["total_purchases"].as_u64().unwrap()
}

/// The node of `/readyz` named `host`.
fn node(client: &Client, host: &str) -> Value {
    let ready = get(client, "/readyz", None).json();
    ready["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("/readyz lists the nodes: {ready}"))
        .iter()
        .find(|node| node["name"] == host)
        .unwrap_or_else(|| panic!("/readyz lists {host}: {ready}"))
        .clone()
}

/// Records a purchase; returns its answer and its consistency token.
fn purchase(client: &Client) -> (Value, String) {
    let reply = client
        .request("POST", "/cash-register/purchase", Some(PURCHASE))
        .unwrap();
    assert_eq!(reply.status, 201, "{}", reply.body);
    let token = reply
        .headers
        .get(TOKEN)
        .expect("a write's answer carries its consistency token")
        .to_str()
        .unwrap()
        .to_owned();
    (reply.json(), token)
}

#[test]
fn reads_go_to_a_standby_within_the_lag_bound_and_see_the_writes_whose_token_they_send() {
    let sql = Sql::new();
    let primary = Cluster::start();
    let standby = Cluster::standby_of(&primary);
    let server = Server::start_with(
        Some(&primary.url()),
        &data_dir(),
        &[
            ("ICASH_READ_DATABASE_URL", &standby.url()),
            ("ICASH_MAX_REPLICA_LAG_MS", "2000"),
            ("ICASH_METRICS_ADDR", "127.0.0.1:0"),
        ],
    );
    let client = server.client();
    wait_until(Duration::from_secs(20), "the standby serves reads", || {
        node(&client, &standby.host())["reads"] == true
    });
    let writer = node(&client, &primary.host());
    assert_eq!(
        (&writer["role"], &writer["writes"], &writer["lag_ms"]),
        (&json!("primary"), &json!(true), &json!(0))
    );
    assert_eq!(node(&client, &standby.host())["role"], "standby");

    // Caught up: the standby answers as the primary would.
    let (first, first_token) = purchase(&client);
    let first_path = format!("/cash-register/purchases/{}", first["purchase_id"]);
    let receipt = get(&client, &first_path, Some(&first_token));
    assert_eq!(
        (receipt.status, receipt.json()),
        (200, untouched_receipt(&first))
    );
    let before = total_purchases(&client, Some(&first_token));

    // The standby stops replaying: within the bound it still answers, without what came since.
    assert_eq!(
        sql.text(&standby, "SELECT pg_wal_replay_pause()::text"),
        Some(String::new())
    );
    wait_until(Duration::from_secs(5), "replay pauses", || {
        sql.text(&standby, "SELECT pg_get_wal_replay_pause_state()") == Some("paused".to_owned())
    });
    let (second, second_token) = purchase(&client);
    let written = Instant::now();
    let second_path = format!("/cash-register/purchases/{}", second["purchase_id"]);
    assert_eq!(
        total_purchases(&client, None),
        before,
        "within the bound, a read without a token is answered by the standby"
    );
    assert_eq!(get(&client, &second_path, None).status, 404);
    assert!(
        written.elapsed() < Duration::from_secs(2),
        "all that within the bound"
    );

    // With the token, the write is seen: the standby has not replayed it, so the primary answers.
    let receipt = get(&client, &second_path, Some(&second_token));
    assert_eq!(
        (receipt.status, receipt.json()),
        (200, untouched_receipt(&second))
    );
    assert_eq!(total_purchases(&client, Some(&second_token)), before + 1);

    // Past the bound the standby is not asked: every read sees the second purchase.
    let switched = wait_until(
        Duration::from_secs(5),
        "reads leave the lagging standby",
        || total_purchases(&client, None) == before + 1,
    );
    let lag = written.elapsed();
    assert!(
        lag >= Duration::from_millis(1500),
        "the standby was left only once behind by about the bound, not after {lag:?}"
    );
    println!("reads left the standby {switched:?} after the purchase");
    let lagging = node(&client, &standby.host());
    assert_eq!(lagging["reads"], false, "{lagging}");
    assert!(lagging["lag_ms"].as_u64().unwrap() >= 2000, "{lagging}");

    // The metrics tell each server's role and lag.
    let logs = server.logs();
    let metrics = logs
        .split("serving metrics on http://")
        .nth(1)
        .and_then(|rest| rest.split("/metrics").next())
        .unwrap_or_else(|| panic!("the metrics address is logged: {logs}"));
    let scrape = Client::new(metrics)
        .request("GET", "/metrics", None)
        .unwrap()
        .body;
    for series in [
        format!(
            r#"icash_db_node_role{{node="{}",role="primary"}} 1"#,
            primary.host()
        ),
        format!(
            r#"icash_db_node_role{{node="{}",role="standby"}} 1"#,
            standby.host()
        ),
        format!(r#"icash_db_node_reads{{node="{}"}} 0"#, standby.host()),
    ] {
        assert!(scrape.contains(&series), "{series} in:\n{scrape}");
    }
    assert!(
        scrape.contains(&format!(
            r#"icash_db_node_lag_seconds{{node="{}"}}"#,
            standby.host()
        )),
        "{scrape}"
    );

    // Replaying again, it serves reads again, and holds both purchases.
    sql.text(&standby, "SELECT pg_wal_replay_resume()::text");
    wait_until(
        Duration::from_secs(10),
        "the standby serves reads again",
        || node(&client, &standby.host())["reads"] == true,
    );
    assert_eq!(
        get(&client, &second_path, None).json(),
        untouched_receipt(&second)
    );

    // A standby that stops fails no read: the primary answers.
    let stopped = standby.pg_ctl_stop("immediate");
    assert!(stopped.status.success());
    for _ in 0..3 {
        assert_eq!(total_purchases(&client, None), before + 1);
        assert_eq!(
            get(&client, &second_path, None).json(),
            untouched_receipt(&second)
        );
    }
    assert_eq!(node(&client, &standby.host())["role"], "down");
    drop(server);
}

/// What one till saw: each idempotency key it sent, with the purchase answered 201 for it and
/// when.
type Acknowledged = Arc<Mutex<Vec<(String, Value, Instant)>>>;

/// A till: purchases one after another, each with an idempotency key retried until it is
/// answered 201 (a 503 while the database changes hands), until `stop`.
fn till(client: Client, acknowledged: Acknowledged, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let key = uuid::Uuid::new_v4().to_string();
        let started = Instant::now();
        loop {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "a purchase was never recorded"
            );
            let reply = client.request_with(
                "POST",
                "/cash-register/purchase",
                Some(PURCHASE),
                &[("Idempotency-Key", &key)],
            );
            match reply {
                Ok(reply) if reply.status == 201 => {
                    let answer = reply.json();
                    acknowledged
                        .lock()
                        .unwrap()
                        .push((key, answer, Instant::now()));
                    break;
                }
                Ok(reply) => assert_eq!(reply.status, 503, "{}", reply.body),
                Err(_) => {}
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn the_primary_killed_mid_load_loses_no_acknowledged_purchase_and_purchases_resume() {
    let sql = Sql::new();
    let primary = Cluster::start();
    let standby = Cluster::standby_of(&primary);
    // Synchronous replication, set on the primary alone: a promoted standby must not wait for
    // a standby of its own.
    sql.execute(&primary, "ALTER SYSTEM SET synchronous_standby_names = '*'");
    sql.execute(&primary, "SELECT pg_reload_conf()");
    wait_until(
        Duration::from_secs(10),
        "the standby is synchronous",
        || {
            sql.text(
                &primary,
                "SELECT count(*)::text FROM pg_stat_replication WHERE sync_state = 'sync'",
            ) == Some("1".to_owned())
        },
    );
    let url = format!(
        "postgres://postgres@{},{}/postgres",
        primary.host(),
        standby.host()
    );
    let server = Server::start(Some(&url), &data_dir());
    let client = server.client();
    let before = total_purchases(&client, None);

    let acknowledged: Acknowledged = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let tills: Vec<_> = (0..4)
        .map(|_| {
            let (client, acknowledged, stop) = (client.clone(), acknowledged.clone(), stop.clone());
            std::thread::spawn(move || till(client, acknowledged, stop))
        })
        .collect();
    let count = || acknowledged.lock().unwrap().len();
    wait_until(Duration::from_secs(20), "purchases are recorded", || {
        count() >= 50
    });

    // The primary dies mid-load; an HA manager would promote the standby a moment later.
    let killed = primary.pg_ctl_stop("immediate");
    assert!(killed.status.success());
    let at_kill = count();
    std::thread::sleep(Duration::from_millis(500));
    standby.promote();
    let promoted = Instant::now();
    let resumed = wait_until(
        Duration::from_secs(10),
        "purchases resume after the promotion",
        || {
            acknowledged
                .lock()
                .unwrap()
                .iter()
                .any(|(_, _, at)| *at > promoted)
        },
    );
    println!("{at_kill} purchases before the kill; recorded again {resumed:?} after the promotion");
    wait_until(Duration::from_secs(10), "more purchases", || {
        count() >= at_kill + 50
    });
    stop.store(true, Ordering::Relaxed);
    for till in tills {
        till.join().expect("a till thread");
    }

    let acknowledged = acknowledged.lock().unwrap();
    let ids: Vec<i64> = acknowledged
        .iter()
        .map(|(_, answer, _)| answer["purchase_id"].as_i64().unwrap())
        .collect();
    assert!(
        ids.len() > at_kill,
        "purchases recorded on both sides of the failover"
    );
    // Every purchase answered 201 is on the promoted standby, under the customer it was
    // answered with.
    let pairs: Vec<String> = acknowledged
        .iter()
        .map(|(_, answer, _)| {
            format!(
                "{}/{}",
                answer["purchase_id"],
                answer["user_id"].as_str().unwrap()
            )
        })
        .collect();
    let found = sql.0.block_on(async {
        let mut conn = sqlx::PgConnection::connect(&standby.url()).await.unwrap();
        let found: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM purchases WHERE id::text || '/' || customer_id::text = ANY($1)",
        )
        .bind(&pairs)
        .fetch_one(&mut conn)
        .await
        .unwrap();
        found
    });
    assert_eq!(
        found as usize,
        ids.len(),
        "every acknowledged purchase survived"
    );
    // And nothing else: each key was recorded once, however often it was sent.
    let recorded = sql.count(
        &standby,
        "SELECT count(*) FROM purchases WHERE id <> ALL($1)",
        &ids,
    );
    assert_eq!(
        recorded as u64, before,
        "no purchase recorded twice or unanswered"
    );
    assert!(
        server.logs().contains("the database's writer changed"),
        "{}",
        server.notable_logs()
    );
    drop(server);
}

/// A token is opaque to clients: one that is not 1 to 128 visible characters is a 400 that names
/// the header; any other is accepted, on a store that has no standbys too.
#[tokio::test]
async fn a_malformed_consistency_token_is_refused_with_a_sentence() {
    let store: Arc<dyn icash::core::Store> = Arc::new(icash::core::MemoryStore::new());
    let api = icash::http::api(store, icash::http::ApiConfig::default());
    for (token, status) in [
        ("16/B374D848:731", 200),
        ("anything-else", 200),
        ("a b", 400),
    ] {
        let response = warp::test::request()
            .path("/analytics/statistics")
            .header(TOKEN, token)
            .reply(&api)
            .await;
        assert_eq!(response.status(), status, "{token:?}");
        if status == 400 {
            let body: Value = serde_json::from_slice(response.body()).unwrap();
            assert!(
                body["error"]
                    .as_str()
                    .unwrap()
                    .contains("icash-consistency"),
                "{body}"
            );
        }
    }
}
