//! The example server as a process, for the tests that run it whole: started on a free port
//! with a given database and data directory, its logs captured, spoken to over HTTP, signalled,
//! and waited for. Killed when dropped, so that a failing test leaves no process behind.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{AUTHORIZATION, CONNECTION, CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// How long a server may take to listen: it migrates and loads its data files first.
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a request may take before it counts as unanswered.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The example server's binary, built once per test run so that it is never stale (`cargo test
/// --test it` alone does not build examples).
fn server_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let started = Instant::now();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let built = Command::new(cargo)
            .args(["build", "--quiet", "--example", "server"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(built.success(), "cannot build the example server");
        println!("built the example server in {:?}", started.elapsed());
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

/// Runs the example server's `keys` command with `args` on the database at `database_url`:
/// its exit status, standard output and standard error.
pub fn keys_command(database_url: &str, args: &[&str]) -> (ExitStatus, String, String) {
    server_command(database_url, &[&["keys"], args].concat())
}

/// Runs the example server with `args` (a command such as `migrate`, and its flags) on the
/// database at `database_url`: its exit status, standard output and standard error.
pub fn server_command(database_url: &str, args: &[&str]) -> (ExitStatus, String, String) {
    let output = Command::new(server_binary())
        .args(args)
        .env("DATABASE_URL", database_url)
        .env_remove("ICASH_ADMIN_KEY")
        .stdin(Stdio::null())
        .output()
        .expect("the keys command runs");
    (
        output.status,
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A server process and what it has logged so far.
pub struct Server {
    child: Child,
    logs: Arc<Mutex<String>>,
    /// The addresses the server says it listens on, as it logs them.
    listening: Receiver<String>,
    /// The addresses the server says it answers its probes on during its start-up.
    probing: Receiver<String>,
    addr: Option<String>,
}

/// How a server's start ended.
pub enum Start {
    /// It listens.
    Listening(Server),
    /// It exited before listening, with its logs.
    Exited(ExitStatus, String),
}

impl Server {
    /// Starts the server on PostgreSQL at `database_url` (or in memory when `None`) with the
    /// data directory `data_dir`, on a free port, and waits until it listens; panics with its
    /// logs if it exits instead.
    pub fn start(database_url: Option<&str>, data_dir: &Path) -> Server {
        Server::start_with(database_url, data_dir, &[])
    }

    /// [`Server::start`] with more environment variables, which override the harness's.
    pub fn start_with(database_url: Option<&str>, data_dir: &Path, env: &[(&str, &str)]) -> Server {
        match Server::spawn_with(database_url, data_dir, env).listen() {
            Start::Listening(server) => server,
            Start::Exited(status, logs) => panic!("the server exited ({status}): {logs}"),
        }
    }

    /// Starts the server process as [`Server::start`] does, without waiting for anything.
    pub fn spawn(database_url: Option<&str>, data_dir: &Path) -> Server {
        Server::spawn_with(database_url, data_dir, &[])
    }

    /// [`Server::spawn`] with more environment variables, which override the harness's. The
    /// harness runs servers with `ICASH_AUTH=off`, the old clients' contract, unless told
    /// otherwise.
    pub fn spawn_with(database_url: Option<&str>, data_dir: &Path, env: &[(&str, &str)]) -> Server {
        let mut command = Command::new(server_binary());
        command
            .env_remove("DATABASE_URL")
            .env_remove("ICASH_ADMIN_KEY")
            .env("ICASH_AUTH", "off")
            .env("ICASH_DATA_DIR", data_dir)
            .env("ICASH_ADDR", "127.0.0.1:0")
            .env("RUST_LOG", "info")
            .env("ICASH_LOG_FORMAT", "text")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(url) = database_url {
            command.env("DATABASE_URL", url);
        }
        command.envs(env.iter().copied());
        let mut child = command.spawn().expect("the server starts");
        let logs = Arc::new(Mutex::new(String::new()));
        let (heard, listening) = std::sync::mpsc::channel();
        let (heard_probes, probing) = std::sync::mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let logs = Arc::clone(&logs);
            let heard = heard.clone();
            let heard_probes = heard_probes.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let addr_after = |marker: &str| {
                        line.split(marker)
                            .nth(1)
                            .map(|addr| addr.split_whitespace().next().unwrap_or_default())
                            .map(str::to_owned)
                    };
                    if let Some(addr) = addr_after("listening on http://") {
                        let _ = heard.send(addr);
                    }
                    if let Some(addr) = addr_after("answering the probes on http://") {
                        let _ = heard_probes.send(addr);
                    }
                    logs.lock().unwrap().push_str(&(line + "\n"));
                }
            });
        }
        Server {
            child,
            logs,
            listening,
            probing,
            addr: None,
        }
    }

    /// Waits until the server answers its probes, before its start-up load has finished, and
    /// returns a client for them; panics with its logs if it does not in time.
    pub fn probes(&self) -> Client {
        let addr = self
            .probing
            .recv_timeout(START_TIMEOUT)
            .unwrap_or_else(|_| panic!("the server did not answer probes: {}", self.logs()));
        Client { addr, key: None }
    }

    /// Waits until the server listens, or exits.
    pub fn listen(mut self) -> Start {
        let started = Instant::now();
        loop {
            if let Ok(addr) = self.listening.recv_timeout(Duration::from_millis(100)) {
                println!("the server listens on {addr} after {:?}", started.elapsed());
                self.addr = Some(addr);
                return Start::Listening(self);
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the log threads read the last lines.
                std::thread::sleep(Duration::from_millis(200));
                return Start::Exited(status, self.logs());
            }
            assert!(
                started.elapsed() < START_TIMEOUT,
                "the server did not listen in time: {}",
                self.logs()
            );
        }
    }

    /// The address the server listens on.
    pub fn addr(&self) -> &str {
        self.addr.as_deref().expect("the server listens")
    }

    /// A client of the server, for other threads.
    pub fn client(&self) -> Client {
        Client {
            addr: self.addr().to_owned(),
            key: None,
        }
    }

    /// A client of the server that sends `key` as its bearer key.
    pub fn client_with_key(&self, key: &str) -> Client {
        Client {
            addr: self.addr().to_owned(),
            key: Some(key.to_owned()),
        }
    }

    /// Everything the server has logged so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    /// The logs without the line per request: what a failure message needs.
    pub fn notable_logs(&self) -> String {
        self.logs()
            .lines()
            .filter(|line| !line.contains("INFO request{"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// A request that must be answered: its status and JSON body.
    pub fn request(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        match self.client().request(method, path, body) {
            Ok(reply) => (reply.status, reply.json()),
            Err(failure) => panic!("{method} {path}: {failure}\n{}", self.notable_logs()),
        }
    }

    /// A GET that must be answered 200: its JSON body.
    pub fn get(&self, path: &str) -> Value {
        let (status, body) = self.request("GET", path, None);
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    /// Sends a signal (`KILL`, `TERM`) with the `kill` command: the workspace forbids the
    /// unsafe code that libc would need.
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -{signal} failed");
    }

    /// Waits for the process to exit, for at most `within`.
    pub fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the log threads read the last lines.
                std::thread::sleep(Duration::from_millis(200));
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not exit within {within:?}: {}",
                self.notable_logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Stops the server with SIGTERM and returns its logs; it must exit cleanly.
    pub fn stop(mut self) -> String {
        self.signal("TERM");
        let status = self.wait_exit(Duration::from_secs(30));
        let logs = self.logs();
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

/// An HTTP client of one server: each request on a connection of its own, closed after it.
#[derive(Clone, Debug)]
pub struct Client {
    addr: String,
    /// The bearer key it sends, if any.
    key: Option<String>,
}

/// A complete HTTP response.
#[derive(Debug)]
pub struct Reply {
    /// Its status code.
    pub status: u16,
    /// Its body, its chunks joined.
    pub body: String,
    /// Its headers (empty where the test read the response from a raw socket).
    pub headers: hyper::HeaderMap,
}

impl Reply {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("{error}: {} {}", self.status, self.body))
    }
}

/// Why a request got no complete response.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// No connection: nothing was sent.
    #[error("cannot connect: {0}")]
    Connect(std::io::Error),
    /// The connection was made, but the exchange failed.
    #[error("the exchange failed: {0}")]
    Exchange(hyper::Error),
    /// No complete response within the time allowed.
    #[error("no response within {REQUEST_TIMEOUT:?}")]
    Timeout,
}

impl Client {
    /// A client of the server at `addr` (`host:port`), without a key.
    pub fn new(addr: &str) -> Client {
        Client {
            addr: addr.to_owned(),
            key: None,
        }
    }

    /// Sends a request (with a JSON body when there is one) and reads the whole response.
    pub fn request(&self, method: &str, path: &str, body: Option<&str>) -> Result<Reply, Failure> {
        self.request_with(method, path, body, &[])
    }

    /// [`Client::request`] with more request headers.
    pub fn request_with(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Result<Reply, Failure> {
        let exchange = self.exchange(method, path, body.unwrap_or("").to_owned(), headers);
        runtime().block_on(async {
            tokio::time::timeout(REQUEST_TIMEOUT, exchange)
                .await
                .unwrap_or(Err(Failure::Timeout))
        })
    }

    async fn exchange(
        &self,
        method: &str,
        path: &str,
        body: String,
        headers: &[(&str, &str)],
    ) -> Result<Reply, Failure> {
        let stream = tokio::net::TcpStream::connect(&self.addr)
            .await
            .map_err(Failure::Connect)?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(Failure::Exchange)?;
        tokio::spawn(connection);
        let mut request = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).expect("an HTTP method"))
            .uri(path)
            .header(HOST, &self.addr)
            .header(CONNECTION, "close")
            .header(CONTENT_TYPE, "application/json");
        if let Some(key) = &self.key {
            request = request.header(AUTHORIZATION, format!("Bearer {key}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .expect("a valid request");
        let response = sender
            .send_request(request)
            .await
            .map_err(Failure::Exchange)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(Failure::Exchange)?
            .to_bytes();
        Ok(Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

/// The runtime the client's requests run on, shared by every test thread.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime")
    })
}
