//! The example server as a process: it loads the reference files into PostgreSQL, answers the
//! contract's figures over HTTP, stops cleanly on SIGTERM, and on restart loads nothing twice.
//! It also refuses to start, with a message, on a database it cannot reach or a bad data file.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use icash::postgres::testing::TestDb;
use serde_json::{Value, json};

use crate::support::seed_dir;

/// The example server's binary, built once per test run so that it is never stale (`cargo
/// test` builds examples, but `cargo test --test it` alone does not).
fn server_binary() -> &'static Path {
    static BINARY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BINARY.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let built = Command::new(cargo)
            .args(["build", "--quiet", "--example", "server"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(built.success(), "cannot build the example server");
        let deps = std::env::current_exe()
            .unwrap()
            .parent()
            .unwrap()
            .to_path_buf();
        deps.parent()
            .unwrap()
            .join("examples")
            .join(format!("server{}", std::env::consts::EXE_SUFFIX))
    })
}

/// A running server and the log lines it has written so far.
struct Server {
    child: Child,
    addr: String,
    logs: Arc<Mutex<String>>,
}

enum Start {
    Listening(Server),
    Exited(ExitStatus, String),
}

fn start(database_url: Option<&str>, data_dir: &Path) -> Start {
    let mut command = Command::new(server_binary());
    command
        .env_remove("DATABASE_URL")
        .env("ICASH_DATA_DIR", data_dir)
        .env("ICASH_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(url) = database_url {
        command.env("DATABASE_URL", url);
    }
    let mut child = command.spawn().expect("the server starts");
    let logs = Arc::new(Mutex::new(String::new()));
    let (listening, heard) = std::sync::mpsc::channel();
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let logs = Arc::clone(&logs);
        let listening = listening.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("listening on http://").nth(1) {
                    let _ = listening.send(
                        addr.split_whitespace()
                            .next()
                            .unwrap_or_default()
                            .to_owned(),
                    );
                }
                logs.lock().unwrap().push_str(&(line + "\n"));
            }
        });
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(addr) = heard.recv_timeout(Duration::from_millis(100)) {
            return Start::Listening(Server { child, addr, logs });
        }
        if let Some(status) = child.try_wait().unwrap() {
            std::thread::sleep(Duration::from_millis(200));
            return Start::Exited(status, logs.lock().unwrap().clone());
        }
        assert!(
            Instant::now() < deadline,
            "the server did not listen in time: {}",
            logs.lock().unwrap()
        );
    }
}

/// The body of a response sent in chunks (a streamed list), its chunks joined.
fn dechunked(mut rest: &str) -> String {
    let mut body = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n").expect("a chunk's size line");
        let size = usize::from_str_radix(size.trim(), 16).expect("a chunk size in hex");
        if size == 0 {
            return body;
        }
        body.push_str(&after[..size]);
        rest = after[size..]
            .strip_prefix("\r\n")
            .expect("a chunk ends with CRLF");
    }
}

fn listening(start: Start) -> Server {
    match start {
        Start::Listening(server) => server,
        Start::Exited(status, logs) => panic!("the server exited ({status}): {logs}"),
    }
}

impl Server {
    /// Sends a request and returns the status and the JSON body.
    fn request(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let body = body.unwrap_or("");
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").expect("a response head");
        let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        let chunked = head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked");
        let body = if chunked {
            dechunked(body)
        } else {
            body.to_owned()
        };
        let body = body.as_str();
        (
            status,
            serde_json::from_str(body).unwrap_or_else(|error| panic!("{error}: {body}")),
        )
    }

    fn get(&self, path: &str) -> Value {
        let (status, body) = self.request("GET", path, None);
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    /// Stops the server with SIGTERM and returns its logs; it must exit cleanly.
    fn stop(mut self) -> String {
        let killed = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        std::thread::sleep(Duration::from_millis(200));
        let logs = self.logs.lock().unwrap().clone();
        assert!(
            status.success(),
            "a clean exit on SIGTERM ({status}): {logs}"
        );
        logs
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_server_loads_postgres_once_and_answers_the_reference_figures() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(TestDb::new());
    let url = db.url();

    let server = listening(start(Some(&url), &seed_dir()));
    assert_eq!(server.get("/health")["status"], "healthy");
    let statistics = server.get("/analytics/statistics");
    assert_eq!(statistics["total_purchases"], 2183);
    assert_eq!(statistics["total_revenue"], json!(13608.9));
    assert_eq!(
        statistics["by_supermarket"][1],
        json!({"supermarket_id": 2, "purchase_count": 981, "revenue": 6152.7})
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

    let restarted = listening(start(Some(&url), &seed_dir()));
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
    assert_eq!(receipt, purchase, "the purchase survived the restart");
    let logs = restarted.stop();
    assert!(logs.contains("already has purchases"), "{logs}");
    drop(db);
}

#[test]
fn the_server_refuses_to_start_on_an_unreachable_database() {
    let Start::Exited(status, logs) =
        start(Some("postgres://postgres@127.0.0.1:9/icash"), &seed_dir())
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
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        seed_dir().join("products_list.csv"),
        dir.path().join("products_list.csv"),
    )
    .unwrap();
    let purchases = std::fs::read_to_string(seed_dir().join("purchases.csv")).unwrap();
    let broken = purchases.replacen("SMKT003", "SMKT042", 1);
    std::fs::write(dir.path().join("purchases.csv"), broken).unwrap();
    let Start::Exited(status, logs) = start(None, dir.path()) else {
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
    let mut command = Command::new(server_binary());
    command
        .env("DATABASE_URL", db.url())
        .env("ICASH_DATA_DIR", data.path())
        .env("ICASH_ADDR", "127.0.0.1:0")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut loading = command.spawn().unwrap();
    // Kill it once the load is under way: the products are written first, in the same
    // transaction, so wait until the server's session holds the import lock.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !runtime.block_on(import_in_progress(&db)) {
        assert!(Instant::now() < deadline, "the load never started");
        assert!(
            loading.try_wait().unwrap().is_none(),
            "the server stopped before loading"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        loading.try_wait().unwrap().is_none(),
        "still loading when killed"
    );
    Command::new("kill")
        .args(["-KILL", &loading.id().to_string()])
        .status()
        .unwrap();
    loading.wait().unwrap();
    assert_eq!(
        count_purchases(&runtime, &db),
        0,
        "an interrupted load leaves nothing behind"
    );

    let server = listening(start(Some(&db.url()), data.path()));
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
