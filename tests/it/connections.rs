//! The edge of the server: connection limits and timeouts, a response a client stops reading,
//! and overload told apart from an outage. The server is served in process (`icash::http::serve`)
//! on a port of its own, and spoken to over raw sockets where a test must stall or cut.

use std::sync::Arc;
use std::time::{Duration, Instant};

use icash::core::import::Policy;
use icash::core::{MemoryStore, Store};
use icash::http::{ApiConfig, ConnectionLimits};
use icash::postgres::testing::TestDb;
use icash::postgres::{PgConfig, PgStore};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A server of `store` under `limits`, on a free port, stopped when `stop` is sent.
struct Served {
    addr: std::net::SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Served {
    async fn start(store: Arc<dyn Store>, limits: ConnectionLimits) -> Served {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let api = icash::http::api(store, ApiConfig::default());
        let task = tokio::spawn(async move {
            icash::http::serve(
                listener,
                api,
                async {
                    let _ = stopped.await;
                },
                &limits,
            )
            .await;
        });
        Served {
            addr,
            stop: Some(stop),
            task,
        }
    }

    async fn connect(&self) -> TcpStream {
        TcpStream::connect(self.addr).await.unwrap()
    }

    /// Stops the server and waits for it, returning how long that took.
    async fn shut_down(mut self) -> Duration {
        let started = Instant::now();
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(60), &mut self.task)
            .await
            .expect("the server stops")
            .unwrap();
        started.elapsed()
    }
}

/// Limits with short timeouts, for tests that wait for them.
fn short_limits() -> ConnectionLimits {
    ConnectionLimits {
        head_timeout: Duration::from_secs(1),
        keep_alive: Duration::from_secs(3),
        write_timeout: Duration::from_secs(2),
        max_connections: 16,
        shutdown_timeout: Duration::from_secs(5),
        drain: Duration::from_millis(100),
    }
}

/// Sends a GET on a kept-alive connection.
async fn send_get(stream: &mut TcpStream, path: &str) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: icash\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
}

/// Reads one response with a `Content-Length`: its status and body.
async fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut bytes = Vec::new();
    let mut buffer = [0; 4096];
    loop {
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer))
            .await
            .expect("an answer within 10 s")
            .unwrap();
        assert!(read > 0, "the connection closed before its answer");
        bytes.extend_from_slice(&buffer[..read]);
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let Some(end) = text.find("\r\n\r\n") else {
            continue;
        };
        let length: usize = text[..end]
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().unwrap())
            })
            .expect("a content length");
        if bytes.len() >= end + 4 + length {
            let status = text[9..12].parse().unwrap();
            return (status, text[end + 4..end + 4 + length].to_owned());
        }
    }
}

/// Reads until the server closes the connection, for at most `within`: how long it took.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Duration {
    let started = Instant::now();
    let mut buffer = [0; 4096];
    loop {
        match tokio::time::timeout_at((started + within).into(), stream.read(&mut buffer)).await {
            Ok(Ok(0) | Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => {}
            Err(_) => panic!("the connection is still open after {within:?}"),
        }
    }
}

/// A client that sends half a request's head and stalls is disconnected at the head timeout.
#[tokio::test]
async fn a_half_sent_request_head_is_disconnected_at_the_head_timeout() {
    let served = Served::start(Arc::new(MemoryStore::new()), short_limits()).await;
    let mut slow = served.connect().await;
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: icash\r\nX-Half")
        .await
        .unwrap();
    let closed = closed_within(&mut slow, Duration::from_secs(5)).await;
    assert!(closed >= Duration::from_millis(900), "{closed:?}");
    assert!(closed < Duration::from_secs(3), "{closed:?}");
    served.shut_down().await;
}

/// An idle kept-alive connection outlives the head timeout, serves its next request, and is
/// closed at the keep-alive timeout.
#[tokio::test]
async fn an_idle_connection_is_kept_for_the_keep_alive_timeout_then_closed() {
    let served = Served::start(Arc::new(MemoryStore::new()), short_limits()).await;
    let mut till = served.connect().await;
    send_get(&mut till, "/health").await;
    assert_eq!(read_response(&mut till).await.0, 200);
    // Idle past the head timeout, within the keep-alive one.
    tokio::time::sleep(Duration::from_secs(2)).await;
    send_get(&mut till, "/health").await;
    assert_eq!(read_response(&mut till).await.0, 200);
    let closed = closed_within(&mut till, Duration::from_secs(8)).await;
    assert!(closed >= Duration::from_millis(2900), "{closed:?}");
    served.shut_down().await;
}

/// Beyond the cap, a new connection waits until one closes; then it is served.
#[tokio::test]
async fn a_connection_beyond_the_cap_waits_for_a_free_slot() {
    let limits = ConnectionLimits {
        max_connections: 1,
        ..short_limits()
    };
    let served = Served::start(Arc::new(MemoryStore::new()), limits).await;
    let mut first = served.connect().await;
    send_get(&mut first, "/health").await;
    assert_eq!(read_response(&mut first).await.0, 200);

    let mut second = served.connect().await;
    send_get(&mut second, "/health").await;
    let mut buffer = [0; 64];
    let waited = tokio::time::timeout(Duration::from_millis(700), second.read(&mut buffer)).await;
    assert!(waited.is_err(), "the second connection is not served yet");

    drop(first);
    assert_eq!(read_response(&mut second).await.0, 200);
    served.shut_down().await;
}

/// A shutdown waits for the connections in flight for its timeout at the most, then drops them
/// and returns.
#[tokio::test]
async fn a_shutdown_drops_the_connections_left_at_its_timeout() {
    let limits = ConnectionLimits {
        head_timeout: Duration::from_secs(60),
        keep_alive: Duration::from_secs(60),
        shutdown_timeout: Duration::from_secs(1),
        ..short_limits()
    };
    let served = Served::start(Arc::new(MemoryStore::new()), limits).await;
    let mut stuck = served.connect().await;
    stuck
        .write_all(b"GET /health HTTP/1.1\r\nHost: ic")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let took = served.shut_down().await;
    assert!(took < Duration::from_secs(4), "{took:?}");
    closed_within(&mut stuck, Duration::from_secs(2)).await;
}

/// A store on `db` whose main pool and till pool hold one connection each and wait 500 ms for
/// one, loaded with `customers` customers of one purchase each.
async fn one_connection_store(db: &TestDb, customers: usize) -> PgStore {
    let config = PgConfig {
        max_connections: 1,
        acquire_timeout: Duration::from_millis(500),
        ..PgConfig::default()
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("products_list.csv"),
        "product_name,unit_price\nmilk,1.5\nbread,2\n",
    )
    .unwrap();
    let mut purchases = String::from("supermarket_id,timestamp,user_id,items_list,total_amount\n");
    for _ in 0..customers {
        purchases.push_str(&format!(
            "SMKT001,2025-01-01T12:00:00.000000,{},\"milk\",1.5\n",
            uuid::Uuid::new_v4()
        ));
    }
    std::fs::write(dir.path().join("purchases.csv"), purchases).unwrap();
    // A load takes more than one connection: on a store of its own.
    icash::data::load_dir(db.store(), dir.path(), Policy::Strict)
        .await
        .unwrap();
    PgStore::connect_with(db.url().parse().unwrap(), &config)
        .await
        .unwrap()
}

/// A client that asks for the whole loyal list (streamed from PostgreSQL on a connection of
/// the main pool) and never reads it does not keep that connection: while it holds it, the
/// pool answers the busy 503 (with `Retry-After`), never the outage one, and purchases, with
/// and without an `Idempotency-Key`, still record on till connections; at the write timeout
/// the response is dropped, and the pool serves again.
#[tokio::test]
async fn a_list_a_client_stops_reading_frees_its_database_connection() {
    let db = TestDb::new().await;
    // About 150 bytes a customer: megabytes, far more than the sockets and hyper buffer.
    let store = one_connection_store(&db, 60_000).await;
    let served = Served::start(Arc::new(store), short_limits()).await;

    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stalled = socket.connect(served.addr).await.unwrap();
    send_get(&mut stalled, "/analytics/loyal-customers?min_purchases=1").await;
    let mut head = [0; 16];
    stalled.read_exact(&mut head).await.unwrap();
    assert!(head.starts_with(b"HTTP/1.1 200"));
    // Reads nothing more from here on.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let client = Client::new(served.addr);
    let (status, retry_after, body) = client.get("/analytics/statistics").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(retry_after.as_deref(), Some("2"));
    assert_eq!(
        body,
        json!({ "error": "the server is busy; please retry in a few seconds" })
    );

    let purchase = r#"{"supermarket_id": 1, "user_id": "new", "items": [{"product_id": 1}]}"#;
    let (status, _, body) = client.post("/cash-register/purchase", purchase, None).await;
    assert_eq!(status, 201, "{body}");
    let (status, _, body) = client
        .post("/cash-register/purchase", purchase, Some("till-1-sale-1"))
        .await;
    assert_eq!(status, 201, "a keyed purchase records too: {body}");

    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, _, body) = client.get("/analytics/statistics").await;
        if status == 200 {
            assert_eq!(body["total_purchases"], 60_002);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the pool never came back: {body}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    drop(stalled);
    served.shut_down().await;
}

/// A statement cut by the statement timeout answers 503 with a sentence of its own and
/// `Retry-After`, not the outage's sentence.
#[tokio::test]
async fn a_statement_cut_by_its_timeout_says_so() {
    use sqlx::Connection;

    let db = TestDb::new().await;
    let config = PgConfig {
        statement_timeout: Some(Duration::from_millis(300)),
        ..PgConfig::default()
    };
    let store = PgStore::connect_with(db.url().parse().unwrap(), &config)
        .await
        .unwrap();
    crate::http::put_catalog(&store).await;
    let served = Served::start(Arc::new(store), short_limits()).await;

    // The catalog's reader waits on this lock until its statement timeout.
    let mut locker = sqlx::PgConnection::connect(&db.url()).await.unwrap();
    let mut lock = locker.begin().await.unwrap();
    sqlx::query("LOCK TABLE products IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();

    let client = Client::new(served.addr);
    let (status, retry_after, body) = client.get("/cash-register/products").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(retry_after.as_deref(), Some("2"));
    let sentence = body["error"].as_str().unwrap();
    assert!(
        sentence.starts_with("the request took longer than the server allows"),
        "{sentence}"
    );
    lock.rollback().await.unwrap();
    let (status, _, _) = client.get("/cash-register/products").await;
    assert_eq!(status, 200);
    served.shut_down().await;
}

/// A client that sends each request on a connection of its own: the status, `Retry-After` and
/// JSON body of the answer.
struct Client {
    addr: std::net::SocketAddr,
}

impl Client {
    fn new(addr: std::net::SocketAddr) -> Client {
        Client { addr }
    }

    async fn get(&self, path: &str) -> (u16, Option<String>, Value) {
        self.send(format!(
            "GET {path} HTTP/1.1\r\nHost: icash\r\nConnection: close\r\n\r\n"
        ))
        .await
    }

    async fn post(
        &self,
        path: &str,
        body: &str,
        key: Option<&str>,
    ) -> (u16, Option<String>, Value) {
        let key = key
            .map(|key| format!("Idempotency-Key: {key}\r\n"))
            .unwrap_or_default();
        self.send(format!(
            "POST {path} HTTP/1.1\r\nHost: icash\r\nConnection: close\r\n{key}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ))
        .await
    }

    async fn send(&self, request: String) -> (u16, Option<String>, Value) {
        let mut stream = TcpStream::connect(self.addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        read_response_with_headers(&mut stream).await
    }
}

/// Reads one response: its status, its `Retry-After`, and its JSON body.
async fn read_response_with_headers(stream: &mut TcpStream) -> (u16, Option<String>, Value) {
    let mut bytes = Vec::new();
    let mut buffer = [0; 4096];
    loop {
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer))
            .await
            .expect("an answer within 10 s")
            .unwrap();
        if read == 0 {
            break;
        }
        bytes.extend_from_slice(&buffer[..read]);
    }
    let text = String::from_utf8(bytes).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("a response head");
    let status = head[9..12].parse().unwrap();
    let retry_after = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("retry-after")
            .then(|| value.trim().to_owned())
    });
    (
        status,
        retry_after,
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}
