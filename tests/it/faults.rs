//! The example server under faults, as a process on real PostgreSQL: a purchase answered 201
//! survives the server being killed with SIGKILL, whole (never without its lines, its total
//! always the sum of its lines); SIGTERM finishes every request already sent and exits 0; and a
//! database outage is answered 503 quickly (never a hang, never a 500), after which the same
//! server process recovers by itself once the database is back.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use icash::postgres::testing::TestDb;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::cluster::{Cluster, describe};
use crate::harness::{Failure, Reply, Server};
use crate::support::data_dir;

/// The body of every answer while the database is down.
const UNAVAILABLE: &str = "the database is unavailable; please retry shortly";

/// A purchase request of products 1 and 2.
fn purchase_body(supermarket_id: usize, user_id: &str) -> String {
    json!({
        "supermarket_id": supermarket_id,
        "user_id": user_id,
        "items": [{"product_id": 1}, {"product_id": 2}],
    })
    .to_string()
}

/// Runs a scalar SQL query on the test database.
fn scalar(runtime: &tokio::runtime::Runtime, db: &TestDb, sql: &'static str) -> i64 {
    runtime
        .block_on(sqlx::query_scalar::<_, i64>(sql).fetch_one(db.pool()))
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
}

/// Waits until `enough` purchases are acknowledged and at least `least` has passed, for at
/// most 20 s.
fn wait_for_acknowledged(count: impl Fn() -> usize, enough: usize, least: Duration) {
    let started = Instant::now();
    while count() < enough || started.elapsed() < least {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "only {} purchases acknowledged in 20 s",
            count()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A purchase answered 201 is durable: after the server is killed with SIGKILL in the middle
/// of a stream of purchases, a new server on the same database returns every acknowledged
/// receipt exactly as it was answered, and no purchase is stored half-written (without lines,
/// or with a total other than the sum of its lines).
#[test]
fn purchases_answered_201_survive_sigkill() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(TestDb::new());
    let url = db.url();
    let mut server = Server::start(Some(&url), &data_dir());
    let loaded = scalar(&runtime, &db, "SELECT count(*) FROM purchases");

    let acknowledged = Arc::new(Mutex::new(Vec::<Value>::new()));
    let killed = Arc::new(AtomicBool::new(false));
    let clients: Vec<JoinHandle<Vec<String>>> = (0..8)
        .map(|client| {
            let till = server.client();
            let acknowledged = Arc::clone(&acknowledged);
            let killed = Arc::clone(&killed);
            std::thread::spawn(move || {
                let mut unexpected = Vec::new();
                for sent in 0.. {
                    let body = purchase_body(1 + (client + sent) % 3, "new");
                    match till.request("POST", "/cash-register/purchase", Some(&body)) {
                        Ok(reply) if reply.status == 201 => {
                            acknowledged.lock().unwrap().push(reply.json());
                        }
                        Ok(reply) => unexpected.push(format!("{} {}", reply.status, reply.body)),
                        Err(Failure::Connect(error)) => {
                            if !killed.load(Ordering::SeqCst) {
                                unexpected.push(format!("connect failed before the kill: {error}"));
                            }
                            break;
                        }
                        // The kill cut this exchange short: expected, and its purchase may or
                        // may not be stored. Stop once the server is gone.
                        Err(_) if killed.load(Ordering::SeqCst) => {}
                        Err(failure) => unexpected.push(format!("before the kill: {failure}")),
                    }
                }
                unexpected
            })
        })
        .collect();

    wait_for_acknowledged(
        || acknowledged.lock().unwrap().len(),
        200,
        Duration::from_millis(1500),
    );
    killed.store(true, Ordering::SeqCst);
    server.signal("KILL");
    let status = server.wait_exit(Duration::from_secs(10));
    assert!(!status.success(), "killed: {status}");
    let unexpected: Vec<String> = clients
        .into_iter()
        .flat_map(|client| client.join().unwrap())
        .collect();
    assert!(
        unexpected.is_empty(),
        "every complete answer is a 201: {unexpected:#?}"
    );
    let acknowledged = std::mem::take(&mut *acknowledged.lock().unwrap());
    println!(
        "{} purchases acknowledged before SIGKILL, {} stored in all",
        acknowledged.len(),
        scalar(&runtime, &db, "SELECT count(*) FROM purchases") - loaded
    );
    drop(server);

    let restarted = Server::start(Some(&url), &data_dir());
    assert!(
        restarted.logs().contains("already has purchases"),
        "nothing is loaded twice: {}",
        restarted.notable_logs()
    );
    for answered in &acknowledged {
        let path = format!("/cash-register/purchases/{}", answered["purchase_id"]);
        let (status, receipt) = restarted.request("GET", &path, None);
        assert_eq!(status, 200, "{path} after SIGKILL: {receipt}");
        assert_eq!(
            receipt,
            crate::support::untouched_receipt(answered),
            "{path}: the receipt is the 201's body"
        );
    }

    assert_eq!(
        scalar(
            &runtime,
            &db,
            "SELECT count(*) FROM purchases p
             WHERE NOT EXISTS (SELECT 1 FROM purchase_lines l WHERE l.purchase_id = p.id)"
        ),
        0,
        "no purchase is stored without its lines"
    );
    assert_eq!(
        scalar(
            &runtime,
            &db,
            "SELECT count(*) FROM purchases p
             WHERE p.total <> (SELECT coalesce(sum(unit_price), 0) FROM purchase_lines l
                               WHERE l.purchase_id = p.id)"
        ),
        0,
        "every purchase's total is the sum of its lines"
    );
    drop(restarted);
    drop(db);
}

/// Where a raw exchange failed.
///
/// The graceful-shutdown test must tell a request cut off before it was written whole from one
/// written whole but unanswered, and see the bytes that came back: an HTTP client hides both,
/// so that test speaks HTTP/1.1 over a socket of its own.
#[derive(Debug)]
enum RawFailure {
    /// No connection: nothing was sent.
    Connect(std::io::Error),
    /// The connection was made but the request could not be written whole.
    Write(std::io::Error),
    /// The whole request was written, but no complete response came back: `received` bytes
    /// of it, then the error (or the end of the stream when `error` is `None`).
    Read {
        error: Option<std::io::Error>,
        received: String,
    },
}

/// Sends one request (`Connection: close`) on a connection made by the caller, and reads the
/// response to its end; it is complete only with its whole head and as many body bytes as its
/// `Content-Length`.
fn raw_send(
    mut stream: TcpStream,
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
    timeout: Duration,
) -> Result<Reply, RawFailure> {
    stream.set_read_timeout(Some(timeout)).unwrap();
    stream.set_write_timeout(Some(timeout)).unwrap();
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .and_then(|()| stream.flush())
        .map_err(RawFailure::Write)?;
    let mut received = Vec::new();
    let error = stream.read_to_end(&mut received).err();
    let received = String::from_utf8_lossy(&received).into_owned();
    match (error, parse_response(&received)) {
        (None, Some(reply)) => Ok(reply),
        // A reset after the whole response was read loses nothing.
        (Some(error), Some(reply)) if error.kind() == ErrorKind::ConnectionReset => Ok(reply),
        (error, _) => Err(RawFailure::Read { error, received }),
    }
}

/// The status and body of a complete response, or `None` when it is cut short.
fn parse_response(received: &str) -> Option<Reply> {
    let (head, body) = received.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let length: usize = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse().ok())?
    })?;
    (body.len() == length).then(|| Reply {
        status,
        headers: Default::default(),
        body: body.to_owned(),
    })
}

/// What a client thread of the SIGTERM test saw.
#[derive(Default)]
struct ClientReport {
    /// Purchases answered 201 after SIGTERM was sent.
    answered_after_sigterm: usize,
    /// Everything but a 201 or a refused connection after SIGTERM.
    unexpected: Vec<String>,
    /// The customers of the requests written whole that got no response.
    unanswered: Vec<Uuid>,
}

/// SIGTERM lets the requests in flight finish: every request sent before it gets its 201; a
/// request sent after it may fail to connect, or be cut off if it reached the kernel's queue
/// as the listener closed, but then it was never recorded (a retry is safe); the server exits
/// 0, and every purchase it acknowledged is stored.
#[test]
fn graceful_shutdown_finishes_requests_in_flight() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(TestDb::new());
    let mut server = Server::start(Some(&db.url()), &data_dir());

    // Each request names a customer of its own, so that a request can be found in the
    // database whatever its answer was.
    let acknowledged = Arc::new(Mutex::new(Vec::<(i64, Uuid)>::new()));
    let terminated: Arc<OnceLock<Instant>> = Arc::new(OnceLock::new());
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<JoinHandle<ClientReport>> = (0..16)
        .map(|client| {
            let addr = server.addr().to_owned();
            let acknowledged = Arc::clone(&acknowledged);
            let terminated = Arc::clone(&terminated);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut report = ClientReport::default();
                for sent in 0.. {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let customer = Uuid::new_v4();
                    let body = purchase_body(1 + (client + sent) % 3, &customer.to_string());
                    // Whether SIGTERM was sent is read once the kernel has queued the
                    // connection: a connection queued before it must be served.
                    let connected = TcpStream::connect(&addr).map_err(RawFailure::Connect);
                    let sent_after_sigterm = terminated.get().is_some();
                    let result = connected.and_then(|stream| {
                        raw_send(
                            stream,
                            &addr,
                            "POST",
                            "/cash-register/purchase",
                            Some(&body),
                            Duration::from_secs(30),
                        )
                    });
                    let since_sigterm = terminated.get().map(Instant::elapsed);
                    match result {
                        Ok(reply) if reply.status == 201 => {
                            let id = reply.json()["purchase_id"].as_i64().unwrap();
                            acknowledged.lock().unwrap().push((id, customer));
                            if since_sigterm.is_some() {
                                report.answered_after_sigterm += 1;
                            }
                        }
                        Ok(reply) => report.unexpected.push(format!("{} {}", reply.status, reply.body)),
                        // The listener is closed: the one failure allowed, and the end.
                        Err(RawFailure::Connect(_)) if since_sigterm.is_some() => break,
                        Err(RawFailure::Connect(error)) => {
                            report.unexpected.push(format!("connect failed before SIGTERM: {error}"));
                            break;
                        }
                        // The same reset, arriving before the request was written.
                        Err(RawFailure::Write(_)) if sent_after_sigterm => {
                            report.unanswered.push(customer);
                        }
                        Err(RawFailure::Write(error)) => report.unexpected.push(format!(
                            "the request could not be written ({since_sigterm:?} after SIGTERM): {error}"
                        )),
                        // Sent after SIGTERM to a connection the kernel queued just as the
                        // listener closed: the kernel resets it, and no server can prevent
                        // that. It must not have been recorded (checked below).
                        Err(RawFailure::Read { received, .. })
                            if sent_after_sigterm && received.is_empty() =>
                        {
                            report.unanswered.push(customer);
                        }
                        Err(RawFailure::Read { error, received }) => {
                            report.unanswered.push(customer);
                            report.unexpected.push(format!(
                                "written whole but not answered ({since_sigterm:?} after SIGTERM): \
                                 {error:?}, received {received:?}, customer {customer}"
                            ));
                        }
                    }
                }
                report
            })
        })
        .collect();

    wait_for_acknowledged(
        || acknowledged.lock().unwrap().len(),
        200,
        Duration::from_millis(500),
    );
    terminated.set(Instant::now()).unwrap();
    server.signal("TERM");
    let status = server.wait_exit(Duration::from_secs(30));
    stop.store(true, Ordering::SeqCst);
    let mut answered_after_sigterm = 0;
    let mut unexpected = Vec::new();
    let mut unanswered = Vec::new();
    for client in clients {
        let report = client.join().unwrap();
        answered_after_sigterm += report.answered_after_sigterm;
        unexpected.extend(report.unexpected);
        unanswered.extend(report.unanswered);
    }
    let logs = server.notable_logs();
    let acknowledged = std::mem::take(&mut *acknowledged.lock().unwrap());
    println!(
        "{} purchases acknowledged, {answered_after_sigterm} of them answered after SIGTERM",
        acknowledged.len()
    );
    // Requests cut off after SIGTERM were never read, so never recorded: a retry is safe.
    let stored: i64 = runtime
        .block_on(
            sqlx::query_scalar("SELECT count(*) FROM purchases WHERE customer_id = ANY($1)")
                .bind(&unanswered)
                .fetch_one(db.pool()),
        )
        .unwrap();
    println!(
        "{} requests sent after SIGTERM were cut off unanswered",
        unanswered.len()
    );
    assert_eq!(stored, 0, "a request cut off unanswered was never recorded");
    // A request sent before SIGTERM, or read by the server, is always answered: the server
    // accepts what the kernel queued before closing its listener, and serves its connections
    // for a drain period before closing them (icash_http::serve).
    assert!(
        unexpected.is_empty(),
        "every request sent before SIGTERM is answered 201: {unexpected:#?}\n{logs}"
    );
    assert!(
        status.success(),
        "a clean exit on SIGTERM ({status}): {logs}"
    );
    assert!(
        logs.contains("stopped after the requests in flight finished"),
        "{logs}"
    );

    let ids: Vec<i64> = acknowledged.iter().map(|&(id, _)| id).collect();
    let customers: Vec<Uuid> = acknowledged.iter().map(|&(_, customer)| customer).collect();
    let stored: i64 = runtime
        .block_on(
            sqlx::query_scalar(
                "SELECT count(*) FROM purchases p
                 JOIN unnest($1::bigint[], $2::uuid[]) AS a (id, customer_id)
                   ON a.id = p.id AND a.customer_id = p.customer_id",
            )
            .bind(&ids)
            .bind(&customers)
            .fetch_one(db.pool()),
        )
        .unwrap();
    assert_eq!(
        stored as usize,
        acknowledged.len(),
        "every acknowledged purchase is stored, under the id and customer it was answered with"
    );
    drop(db);
}

/// A request timed: it must be answered, in under 10 s.
fn timed(server: &Server, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
    let started = Instant::now();
    let answer = server.request(method, path, body);
    let took = started.elapsed();
    println!("{method} {path}: {} in {took:?}", answer.0);
    assert!(
        took < Duration::from_secs(10),
        "{method} {path} took {took:?}: {answer:?}"
    );
    answer
}

/// A database outage is answered 503 with the contract's sentence (and `/health` says
/// degraded, `/readyz` not ready, while `/livez` stays 200) within seconds, never a hang or a
/// 500; once the database is back, the same server
/// process serves again, purchases included, without a restart.
#[test]
fn a_database_outage_gets_503_then_recovers_without_restart() {
    let cluster = Cluster::start();
    let mut server = Server::start(Some(&cluster.url()), &data_dir());
    let purchase = purchase_body(2, "new");

    let (status, health) = timed(&server, "GET", "/health", None);
    assert_eq!((status, &health["status"]), (200, &json!("healthy")));
    assert_eq!(timed(&server, "GET", "/readyz", None).0, 200);
    let (status, before) = timed(&server, "POST", "/cash-register/purchase", Some(&purchase));
    assert_eq!(status, 201, "{before}");
    let (status, statistics) = timed(&server, "GET", "/analytics/statistics", None);
    assert_eq!(status, 200, "{statistics}");
    let purchases_before = statistics["total_purchases"].as_u64().unwrap();

    let stopped = cluster.pg_ctl_stop("fast");
    assert!(stopped.status.success(), "{}", describe(&stopped));
    // Twice: first with the pool's connections that the database closed, then with none.
    for round in 0..2 {
        let (status, body) = timed(&server, "GET", "/analytics/statistics", None);
        assert_eq!(
            (status, &body),
            (503, &json!({ "error": UNAVAILABLE })),
            "statistics in the outage, round {round}\n{}",
            server.notable_logs()
        );
        let (status, body) = timed(&server, "POST", "/cash-register/purchase", Some(&purchase));
        assert_eq!(
            (status, &body),
            (503, &json!({ "error": UNAVAILABLE })),
            "a purchase in the outage, round {round}\n{}",
            server.notable_logs()
        );
        let (status, body) = timed(&server, "GET", "/health", None);
        assert_eq!(
            (status, &body["status"]),
            (503, &json!("degraded")),
            "health in the outage, round {round}: {body}"
        );
        assert_eq!(
            body["services"],
            json!({"cash_register": "unhealthy", "analytics": "unhealthy"})
        );
        let (status, body) = timed(&server, "GET", "/readyz", None);
        assert_eq!(
            (status, &body["database"], &body["error"]),
            (
                503,
                &json!("down"),
                &json!("not ready: the database does not answer")
            ),
            "readiness in the outage, round {round}"
        );
        let (status, body) = timed(&server, "GET", "/livez", None);
        assert_eq!(
            (status, body),
            (200, json!({"status": "alive"})),
            "liveness in the outage, round {round}"
        );
    }

    cluster.pg_ctl_start();
    let back = Instant::now();
    loop {
        let (status, body) = timed(&server, "GET", "/health", None);
        if status == 200 {
            assert_eq!(body["status"], "healthy");
            break;
        }
        assert_eq!((status, &body["status"]), (503, &json!("degraded")));
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "still degraded 30 s after the database came back\n{}",
            server.notable_logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    println!("healthy again {:?} after the database", back.elapsed());
    assert_eq!(timed(&server, "GET", "/readyz", None).0, 200);
    let (status, after) = timed(&server, "POST", "/cash-register/purchase", Some(&purchase));
    assert_eq!(status, 201, "a purchase after the outage: {after}");
    let (status, receipt) = timed(
        &server,
        "GET",
        &format!("/cash-register/purchases/{}", after["purchase_id"]),
        None,
    );
    assert_eq!(
        (status, &receipt),
        (200, &crate::support::untouched_receipt(&after))
    );
    let (status, statistics) = timed(&server, "GET", "/analytics/statistics", None);
    assert_eq!(status, 200, "{statistics}");
    assert_eq!(
        statistics["total_purchases"].as_u64().unwrap(),
        purchases_before + 1,
        "the purchase after the outage counts, and none refused in it does"
    );
    assert!(server.is_running(), "the same process, never restarted");

    server.signal("TERM");
    let status = server.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "{status}: {}", server.notable_logs());
    drop(cluster);
}
