//! The probes (`/livez`, `/readyz`), `/health`'s services, `HEAD` on every `GET` route, and
//! the requests the HTTP layer refuses for their head: in process on both stores, and over raw
//! sockets against the server process.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use icash::http::{ApiConfig, SharedStore, Startup};
use serde_json::{Value, json};

use crate::api::{Api, get, post_json, send};
use crate::harness::Server;
use crate::support::{data_dir, on_both_stores};

/// Every `GET` route of the index, with a path that exists on an empty store or not.
const GET_PATHS: [&str; 13] = [
    "/",
    "/health",
    "/livez",
    "/readyz",
    "/openapi.json",
    "/dashboard",
    "/cash-register/products",
    "/cash-register/customers",
    "/cash-register/purchases/1",
    "/analytics/unique-customers",
    "/analytics/loyal-customers",
    "/analytics/top-products",
    "/analytics/statistics",
];

const PURCHASE: &str = r#"{"supermarket_id": 1, "user_id": "new", "items": [{"product_id": 1}]}"#;

async fn probes_answer_and_health_lists_the_services(store: SharedStore) {
    let api = crate::api::api(store);
    let live = get(&api, "/livez").await;
    assert_eq!(
        (live.status, live.json()),
        (200, json!({"status": "alive"}))
    );
    let ready = get(&api, "/readyz").await;
    assert_eq!(
        (ready.status, ready.json()),
        (
            200,
            json!({"status": "ready", "database": "up", "migrations": "applied", "startup": "finished"})
        )
    );
    let health = get(&api, "/health").await;
    assert_eq!(
        (health.status, health.json()),
        (
            200,
            json!({
                "status": "healthy",
                "database": "up",
                "services": {"cash_register": "healthy", "analytics": "healthy"},
            })
        )
    );
    let index = get(&api, "/").await.json();
    assert_eq!(index["endpoints"]["livez"], "GET /livez");
    assert_eq!(index["endpoints"]["readyz"], "GET /readyz");
}

async fn head_answers_every_get_route_without_a_body(store: SharedStore) {
    let api = crate::api::api(store);
    for path in GET_PATHS {
        let got = get(&api, path).await;
        let head = send(&api, warp::test::request().method("HEAD").path(path)).await;
        assert_eq!(head.status, got.status, "HEAD {path}");
        assert!(head.body.is_empty(), "HEAD {path} has no body");
        assert_eq!(
            head.header("content-type"),
            got.header("content-type"),
            "HEAD {path}"
        );
        assert!(head.header("x-request-id").is_some(), "HEAD {path}");
        if let Some(length) = head.header("content-length") {
            assert_eq!(length, got.body.len().to_string(), "HEAD {path}'s length");
        }
    }
    let not_allowed = send(
        &api,
        warp::test::request()
            .method("HEAD")
            .path("/cash-register/purchase"),
    )
    .await;
    assert_eq!(not_allowed.status, 405);
    assert_eq!(not_allowed.header("allow"), Some("POST"));
    let wrong_method = send(&api, warp::test::request().method("POST").path("/livez")).await;
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.header("allow"), Some("GET, HEAD"));
}

async fn readyz_waits_for_the_startup_and_the_store_waits_with_it(store: SharedStore) {
    let startup = Startup::pending();
    let api = icash::http::api(
        store,
        ApiConfig {
            startup: startup.clone(),
            ..ApiConfig::default()
        },
    );
    let ready = get(&api, "/readyz").await;
    assert_eq!(ready.status, 503);
    let body = ready.json();
    assert_eq!(
        (&body["status"], &body["startup"], &body["database"]),
        (&json!("not ready"), &json!("loading"), &json!("up"))
    );
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("loading its data files"),
        "{body}"
    );
    for path in ["/", "/livez", "/health", "/openapi.json"] {
        assert_eq!(
            get(&api, path).await.status,
            200,
            "{path} during the start-up"
        );
    }
    let starting = "the server is starting and still loading its data files; please retry shortly";
    let statistics = get(&api, "/analytics/statistics").await;
    assert_eq!(
        (statistics.status, statistics.error()),
        (503, starting.into())
    );
    let purchase = post_json(&api, PURCHASE).await;
    assert_eq!((purchase.status, purchase.error()), (503, starting.into()));

    startup.finish();
    assert_eq!(get(&api, "/readyz").await.status, 200);
    assert_eq!(get(&api, "/analytics/statistics").await.status, 200);
}

on_both_stores!(
    probes_answer_and_health_lists_the_services,
    head_answers_every_get_route_without_a_body,
    readyz_waits_for_the_startup_and_the_store_waits_with_it,
);

/// A database that lacks one of the server's migrations answers, so `/health` is healthy, but
/// `/readyz` says which condition fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_lacking_a_migration_is_not_ready() {
    let db = icash::postgres::testing::TestDb::new().await;
    let api: Api = crate::api::api(std::sync::Arc::new(db.store().clone()));
    sqlx::query(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT max(version) FROM _sqlx_migrations)",
    )
    .execute(db.store().pool())
    .await
    .unwrap();
    let ready = get(&api, "/readyz").await;
    assert_eq!(ready.status, 503);
    let body = ready.json();
    assert_eq!(
        (&body["migrations"], &body["database"], &body["startup"]),
        (&json!("missing"), &json!("up"), &json!("finished"))
    );
    assert_eq!(
        body["error"],
        "not ready: the database lacks 1 of the server's migrations"
    );
    assert_eq!(get(&api, "/health").await.status, 200);
}

/// A raw HTTP exchange: `request` sent as it is, the response read until the server closes.
struct Raw {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Raw {
    fn send(addr: &str, request: &[u8]) -> Raw {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(request).unwrap();
        let mut received = Vec::new();
        stream.read_to_end(&mut received).unwrap();
        let split = received
            .windows(4)
            .position(|window| window == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("a response head: {:?}", String::from_utf8_lossy(&received)));
        let head = String::from_utf8_lossy(&received[..split]).to_lowercase();
        let status = head[9..12].parse().unwrap();
        Raw {
            status,
            head,
            body: received[split + 4..].to_vec(),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{name}: ")))
    }

    /// The error sentence, checking the body is exactly the error envelope.
    fn error(&self) -> String {
        let body: Value = serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("a JSON body: {}{:?}", self.head, self.body));
        assert_eq!(body.as_object().map(|o| o.len()), Some(1), "{body}");
        body["error"].as_str().expect("a sentence").to_owned()
    }
}

/// Requests the HTTP layer refuses for their head get a 4xx with the error envelope and a
/// request id; a header value that is not ASCII, where the API reads none, is no reason to
/// refuse a request.
#[test]
fn refused_heads_get_the_error_envelope() {
    let server = Server::start(None, &data_dir());
    let addr = server.addr();
    let post = |headers: &str, body: &str| {
        format!(
            "POST /cash-register/purchase HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             {headers}Connection: close\r\n\r\n{body}"
        )
    };
    let refusals: [(&str, Vec<u8>, u16, &str); 5] = [
        (
            "HTTP/1.1 without Host",
            b"GET /health HTTP/1.1\r\nConnection: close\r\n\r\n".to_vec(),
            400,
            "an HTTP/1.1 request must send a Host header",
        ),
        (
            "two Hosts",
            b"GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n".to_vec(),
            400,
            "the request sends more than one Host header",
        ),
        (
            "Content-Encoding: gzip",
            post("Content-Encoding: gzip\r\nContent-Length: 2\r\n", "{}").into_bytes(),
            415,
            "the request body is sent with Content-Encoding `gzip`, which this server does not \
             decode; send it without a Content-Encoding",
        ),
        (
            "Transfer-Encoding: gzip, chunked",
            post("Transfer-Encoding: gzip, chunked\r\n", "2\r\n{}\r\n0\r\n\r\n").into_bytes(),
            400,
            "the request body is sent with Transfer-Encoding `gzip`, which this server does not \
             apply; send it with a Content-Length, or chunked alone",
        ),
        (
            "a request id that is not ASCII",
            b"GET /nowhere HTTP/1.1\r\nHost: x\r\nx-request-id: caf\xc3\xa9\r\nConnection: close\r\n\r\n"
                .to_vec(),
            404,
            "there is no endpoint at this path; GET / lists them",
        ),
    ];
    for (case, request, status, sentence) in refusals {
        let raw = Raw::send(addr, &request);
        assert_eq!(raw.status, status, "{case}: {}", raw.head);
        assert_eq!(raw.error(), sentence, "{case}");
        assert_eq!(
            raw.header("content-type"),
            Some("application/json"),
            "{case}"
        );
        assert!(raw.header("x-request-id").is_some(), "{case}");
    }

    let served: [(&str, &[u8]); 3] = [
        (
            "a request id that is not ASCII",
            b"GET /health HTTP/1.1\r\nHost: x\r\nx-request-id: caf\xc3\xa9\r\nConnection: close\r\n\r\n",
        ),
        (
            "another header that is not ASCII",
            b"GET /health HTTP/1.1\r\nHost: x\r\nX-Note: caf\xc3\xa9\r\nConnection: close\r\n\r\n",
        ),
        ("HTTP/1.0 without Host", b"GET /health HTTP/1.0\r\n\r\n"),
    ];
    for (case, request) in served {
        let raw = Raw::send(addr, request);
        assert_eq!(raw.status, 200, "{case}: {}", raw.head);
        let id = raw.header("x-request-id").expect("a request id");
        assert!(id.is_ascii() && id != "café", "{case}: a new id, {id}");
    }

    let got = Raw::send(
        addr,
        b"GET /analytics/statistics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let head = Raw::send(
        addr,
        b"HEAD /analytics/statistics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!((head.status, got.status), (200, 200));
    assert!(head.body.is_empty(), "HEAD sends no body");
    assert_eq!(
        head.header("content-length"),
        Some(got.body.len().to_string().as_str())
    );
    drop(server);
}

/// What hyper answers itself, before the API sees the request (RELIABILITY.md says why it has
/// no error body): a 4xx and a closed connection, never a 5xx, and the server serves on.
#[test]
fn heads_hyper_cannot_parse_get_a_4xx_and_the_server_serves_on() {
    let server = Server::start(None, &data_dir());
    let addr = server.addr();
    let too_many: String = (0..200).map(|i| format!("X-H{i}: v\r\n")).collect();
    let cases: [(&str, Vec<u8>, u16); 4] = [
        (
            "a control character in a header",
            b"GET /health HTTP/1.1\r\nHost: x\r\nX-Note: a\x01b\r\n\r\n".to_vec(),
            400,
        ),
        (
            "too many headers",
            format!("GET /health HTTP/1.1\r\nHost: x\r\n{too_many}\r\n").into_bytes(),
            431,
        ),
        (
            "a Content-Length that is no number",
            b"POST /cash-register/purchase HTTP/1.1\r\nHost: x\r\nContent-Length: ab\r\n\r\n{}"
                .to_vec(),
            400,
        ),
        (
            "a transfer coding that does not end with chunked",
            b"POST /cash-register/purchase HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"
                .to_vec(),
            400,
        ),
    ];
    for (case, request, status) in cases {
        let raw = Raw::send(addr, &request);
        assert_eq!(raw.status, status, "{case}: {}", raw.head);
    }
    assert_eq!(server.get("/livez"), json!({"status": "alive"}));
}

/// The server process answers its probes while it loads its data files: `/livez` 200,
/// `/readyz` 503 (saying it is loading), the data endpoints 503; once loaded, `/readyz` is 200
/// and the data is all there.
#[test]
fn readyz_is_503_until_the_server_has_loaded_its_data() {
    // Many copies of the sample's purchases, so that the load lasts long enough to be seen.
    let dir = tempfile::tempdir().unwrap();
    let sample = data_dir();
    std::fs::copy(
        sample.join("products_list.csv"),
        dir.path().join("products_list.csv"),
    )
    .unwrap();
    let purchases = std::fs::read_to_string(sample.join("purchases.csv")).unwrap();
    let (header, rows) = purchases.split_once('\n').unwrap();
    let copies = 30;
    let mut many = String::with_capacity(purchases.len() * copies);
    many.push_str(header);
    many.push('\n');
    for _ in 0..copies {
        many.push_str(rows);
    }
    std::fs::write(dir.path().join("purchases.csv"), many).unwrap();
    let expected = (rows.lines().count() * copies) as u64;

    let server = Server::spawn(None, dir.path());
    let probes = server.probes();
    let mut seen_loading = 0;
    let started = Instant::now();
    loop {
        let ready = probes.request("GET", "/readyz", None).expect("answered");
        let live = probes.request("GET", "/livez", None).expect("answered");
        assert_eq!(live.status, 200, "/livez during the start-up");
        if ready.status == 200 {
            break;
        }
        assert_eq!(ready.status, 503);
        assert_eq!(ready.json()["startup"], "loading", "{}", ready.body);
        let statistics = probes
            .request("GET", "/analytics/statistics", None)
            .expect("answered");
        // The load may finish between the two requests.
        if statistics.status != 200 {
            assert_eq!(statistics.status, 503, "{}", statistics.body);
        }
        seen_loading += 1;
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "not ready after 120 s: {}",
            server.logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(seen_loading > 0, "the load was seen under way");
    let statistics = probes
        .request("GET", "/analytics/statistics", None)
        .unwrap()
        .json();
    assert_eq!(statistics["total_purchases"].as_u64(), Some(expected));
    let server = match server.listen() {
        crate::harness::Start::Listening(server) => server,
        crate::harness::Start::Exited(status, logs) => panic!("exited ({status}): {logs}"),
    };
    server.stop();
}
