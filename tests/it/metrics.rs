//! `/metrics`: served in Prometheus's text format on `ICASH_METRICS_ADDR` without a key, and on
//! the API's own address to admin keys (the matrix in `auth.rs` checks who may), with the
//! purchases' outcomes, the requests by route template and status, their latency, the pools and
//! the start-up load.

use std::io::{Read, Write};
use std::net::TcpStream;

use icash::postgres::testing::TestDb;

use crate::harness::Server;
use crate::support::data_dir;

const PURCHASE: &str = r#"{"supermarket_id": 1, "user_id": "new", "items": [{"product_id": 1}]}"#;

/// Sends one HTTP/1.1 request to `addr` and returns the status and the body.
fn exchange(addr: &str, request: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("the server accepts");
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().expect("a status line");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn post_purchase(addr: &str, body: &str, key: Option<&str>) -> u16 {
    let key = key
        .map(|key| format!("Idempotency-Key: {key}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "POST /cash-register/purchase HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\n{key}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    exchange(addr, &request).0
}

fn get(addr: &str, path: &str) -> (u16, String) {
    exchange(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    )
}

/// The value of the sample `series` (name and labels, as rendered) in a scrape.
fn sample(scrape: &str, series: &str) -> f64 {
    scrape
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {series} in:\n{scrape}"))
        .parse()
        .unwrap()
}

#[test]
fn metrics_count_purchases_requests_pools_and_the_load_on_their_own_address() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(TestDb::new());
    let server = Server::start_with(
        Some(&db.url()),
        &data_dir(),
        &[("ICASH_METRICS_ADDR", "127.0.0.1:0")],
    );
    let logs = server.logs();
    let metrics_addr = logs
        .split("serving metrics on http://")
        .nth(1)
        .and_then(|rest| rest.split("/metrics").next())
        .unwrap_or_else(|| panic!("the metrics address is logged: {logs}"))
        .to_owned();
    let loaded = server.get("/analytics/statistics")["total_purchases"]
        .as_u64()
        .unwrap();

    let addr = server.addr();
    assert_eq!(post_purchase(addr, PURCHASE, Some("metrics-1")), 201);
    assert_eq!(post_purchase(addr, PURCHASE, Some("metrics-1")), 201);
    assert_eq!(post_purchase(addr, PURCHASE, None), 201);
    let unknown_product =
        r#"{"supermarket_id": 1, "user_id": "new", "items": [{"product_id": 999}]}"#;
    let refused = post_purchase(addr, unknown_product, None);
    assert!((400..500).contains(&refused), "{refused}");
    assert_eq!(get(addr, "/cash-register/purchases/1").0, 200);
    assert_eq!(get(addr, "/cash-register/purchases/2").0, 200);

    // The API's own /metrics answers as the caller's role allows (admin keys; anyone here,
    // as this server runs with ICASH_AUTH=off).
    let (status, on_the_api) = get(addr, "/metrics");
    assert_eq!(status, 200, "{on_the_api}");
    assert!(
        on_the_api.contains(r#"icash_purchases_total{outcome="recorded"} 2"#),
        "{on_the_api}"
    );
    assert_eq!(get(addr, "/no-such-page").0, 404);

    let (status, scrape) = get(&metrics_addr, "/metrics");
    assert_eq!(status, 200, "{scrape}");
    assert_eq!(
        sample(&scrape, r#"icash_purchases_total{outcome="recorded"}"#),
        2.0
    );
    assert_eq!(
        sample(&scrape, r#"icash_purchases_total{outcome="replayed"}"#),
        1.0
    );
    assert_eq!(
        sample(&scrape, r#"icash_purchases_total{outcome="refused"}"#),
        1.0
    );
    assert_eq!(
        sample(&scrape, r#"icash_purchases_total{outcome="failed"}"#),
        0.0
    );
    // By route template, whatever the id: the series stay few.
    let receipts =
        r#"icash_http_requests_total{route="/cash-register/purchases/{id}",status="200"}"#;
    assert_eq!(sample(&scrape, receipts), 2.0);
    let purchases = r#"icash_http_requests_total{route="/cash-register/purchase",status="201"}"#;
    assert_eq!(sample(&scrape, purchases), 3.0);
    assert!(!scrape.contains("/cash-register/purchases/1"), "{scrape}");
    let unrouted = r#"icash_http_requests_total{route="none",status="404"}"#;
    assert_eq!(sample(&scrape, unrouted), 1.0);
    let latency = r#"icash_http_request_duration_seconds_count{route="/cash-register/purchase"}"#;
    assert_eq!(sample(&scrape, latency), 4.0);
    assert!(
        scrape.contains(r#"icash_http_request_duration_seconds_bucket{route="/cash-register/purchase",le="+Inf"} 4"#),
        "{scrape}"
    );
    for pool in ["main", "till"] {
        for state in ["in_use", "idle"] {
            sample(
                &scrape,
                &format!(r#"icash_db_pool_connections{{pool="{pool}",state="{state}"}}"#),
            );
        }
        assert_eq!(
            sample(
                &scrape,
                &format!(r#"icash_db_pool_max_connections{{pool="{pool}"}}"#)
            ),
            10.0
        );
        sample(
            &scrape,
            &format!(r#"icash_db_pool_waits_total{{pool="{pool}"}}"#),
        );
    }
    sample(&scrape, r#"icash_db_pool_waiting{pool="till"}"#);
    assert_eq!(sample(&scrape, "icash_load_purchases"), loaded as f64);
    assert_eq!(sample(&scrape, "icash_load_done"), 1.0);
    assert!(sample(&scrape, "icash_load_bytes_read") > 0.0);

    assert_eq!(get(&metrics_addr, "/analytics/statistics").0, 404);
    server.stop();
}
