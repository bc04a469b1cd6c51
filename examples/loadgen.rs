//! A load generator for the icash HTTP API: `N` clients, each on its own HTTP/1.1 keep-alive
//! connection, send requests back to back (a closed loop) and the latencies go into an HDR
//! histogram.
//!
//! ```text
//! # Purchases from 8 clients for 15 s after 2 s of warm-up:
//! cargo run --release --example loadgen -- --clients 8 --duration 15 --warmup 2 --scenario purchase
//!
//! # The same, drawing existing customers from a data file (the third column of purchases.csv):
//! cargo run --release --example loadgen -- --clients 32 --scenario purchase --customer-pool data/purchases.csv
//!
//! # Any GET path, here a filtered analytic, as one JSON line for a script:
//! cargo run --release --example loadgen -- --clients 8 --duration 10 --json \
//!     --scenario "/analytics/statistics?from=2025-03-01T00:00:00Z&to=2025-03-08T00:00:00Z"
//!
//! # A fixed number of requests instead of a duration:
//! cargo run --release --example loadgen -- --clients 8 --requests 10000 --scenario /dashboard
//!
//! # A till that was offline: batches of 1,000 purchases made in the last hour, from 1 client:
//! cargo run --release --example loadgen -- --clients 1 --scenario batch --batch-size 1000
//! ```
//!
//! A purchase names a random branch (1 to 3), a customer that is `"new"` (a share set by
//! `--new-customers`) or one of a pool of UUIDs (from `--customer-pool`, or random ones), and 1 to
//! 5 distinct products among 1 to 30. A batch (`--scenario batch`) holds `--batch-size` such
//! purchases, each with a client id of its own and a sale time in the last hour; its report
//! gives `purchases_per_request`, so that a purchase rate is the request rate times it.
//!
//! It prints one line per run: requests, errors (non-2xx answers and failed exchanges),
//! throughput, and the latency's p50, p90, p99 and max in milliseconds; with `--json`, the same as
//! one JSON object. The requests sent after the warm-up and before the deadline count; after the
//! deadline a client sends nothing more, except its first measured request if a slow warm-up
//! request kept it busy until then, and the throughput is over the time from the end of the
//! warm-up to the last measured answer (or the deadline, if later): a slow endpoint still yields
//! figures. The generator runs on a single thread by default (`--threads`), so that on a small
//! machine it takes as little CPU as possible from the server and the database.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use rand::seq::index;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::net::TcpStream;

/// The command line.
#[derive(Debug, Parser)]
#[command(about = "Sends purchases or GET requests to an icash server and reports latencies")]
struct Args {
    /// The server's base URL (plain HTTP).
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    url: String,

    /// How many clients, each with its own keep-alive connection.
    #[arg(long, default_value_t = 8)]
    clients: usize,

    /// How long to measure, in seconds, after the warm-up. Without `--requests`, 10 s.
    #[arg(long)]
    duration: Option<f64>,

    /// How many requests to measure, all clients together, after the warm-up.
    #[arg(long)]
    requests: Option<u64>,

    /// How long to send requests before measuring, in seconds.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,

    /// `purchase` (POST /cash-register/purchase), `batch` (POST
    /// /cash-register/purchases/batch), or a GET path with its query, such as
    /// `/analytics/statistics?supermarket_id=2`.
    #[arg(long, default_value = "purchase")]
    scenario: String,

    /// The share of purchases sent with `"user_id": "new"`, from 0 to 1; the others name a
    /// customer of the pool.
    #[arg(long, default_value_t = 0.2)]
    new_customers: f64,

    /// A `purchases.csv` whose customer ids (third column) make the pool of existing customers;
    /// without it, the pool is random UUIDs.
    #[arg(long)]
    customer_pool: Option<PathBuf>,

    /// The size of the customer pool.
    #[arg(long, default_value_t = 10_000)]
    pool_size: usize,

    /// The seed of the random choices (each client draws from its own stream of it).
    #[arg(long, default_value_t = 1)]
    seed: u64,

    /// How long a request may take, in seconds, before it counts as an error and its
    /// connection is replaced.
    #[arg(long, default_value_t = 120.0)]
    timeout: f64,

    /// Worker threads; 1 runs every client on the current thread.
    #[arg(long, default_value_t = 1)]
    threads: usize,

    /// How many purchases a batch holds (`--scenario batch`).
    #[arg(long, default_value_t = 1000)]
    batch_size: usize,

    /// The name of the run in the report; the scenario by default.
    #[arg(long)]
    label: Option<String>,

    /// An API key to send as `Authorization: Bearer <key>` (prefer the environment variable:
    /// a command line is visible to other users); none by default, for a server run with
    /// `ICASH_AUTH=off`.
    #[arg(long, env = "ICASH_LOADGEN_KEY", hide_env_values = true)]
    key: Option<String>,

    /// Print the report as one JSON object instead of a line of text.
    #[arg(long)]
    json: bool,
}

/// The largest latency the histograms hold, in microseconds (a minute); longer ones are
/// recorded as this.
const MAX_LATENCY_US: u64 = 60_000_000;

/// What one client sends.
#[derive(Clone, Debug)]
enum Scenario {
    /// Random purchases.
    Purchase,
    /// Batches of this many random purchases made offline.
    Batch(usize),
    /// The same GET request again and again, to this path and query.
    Get(String),
}

/// Where the server is: the address to connect to and the `Host` header to send.
#[derive(Clone, Debug)]
struct Target {
    /// `host:port`, as given to `TcpStream::connect`.
    addr: String,
    /// The base path, without a trailing slash, that scenario paths are appended to.
    base: String,
}

impl Target {
    /// Parses an `http://host:port[/base]` URL.
    fn parse(url: &str) -> Result<Target, String> {
        let uri: Uri = url
            .parse()
            .map_err(|error| format!("--url {url} is not a URL: {error}"))?;
        if uri.scheme_str() != Some("http") {
            return Err(format!("--url {url}: only http:// is supported"));
        }
        let host = uri
            .host()
            .ok_or_else(|| format!("--url {url} has no host"))?;
        let port = uri.port_u16().unwrap_or(80);
        Ok(Target {
            addr: format!("{host}:{port}"),
            base: uri.path().trim_end_matches('/').to_owned(),
        })
    }
}

/// The measurement window, shared by every client.
#[derive(Clone, Copy, Debug)]
struct Window {
    /// When measuring starts: requests sent earlier are warm-up.
    start: Instant,
    /// When the clients stop sending; `None` when only a request count ends the run.
    end: Option<Instant>,
}

impl Window {
    /// Whether a request sent at `sent` is measured.
    fn measures(&self, sent: Instant) -> bool {
        sent >= self.start
    }

    /// Whether the clients should stop.
    fn over(&self, now: Instant) -> bool {
        self.end.is_some_and(|end| now >= end)
    }
}

/// What a client measured.
struct ClientReport {
    /// Latencies of the measured requests, in microseconds.
    latencies: Histogram<u64>,
    /// Times from sending each measured request to its answer's head, in microseconds: what a
    /// streamed answer's first bytes wait.
    first_bytes: Histogram<u64>,
    /// Measured answers that were not 2xx, and measured exchanges that failed.
    errors: u64,
    /// Body bytes of the measured answers.
    body_bytes: u64,
    /// The first error seen, for the operator.
    first_error: Option<String>,
    /// When the last measured answer came.
    last_done: Option<Instant>,
}

/// Everything the clients share.
struct Shared {
    /// The server.
    target: Target,
    /// The request to send.
    scenario: Scenario,
    /// The measurement window.
    window: Window,
    /// With `--requests`: how many measured requests may still be sent.
    budget: Option<AtomicU64>,
    /// Customers a purchase may name.
    pool: Vec<String>,
    /// The share of purchases for a new customer.
    new_customers: f64,
    /// How long a request may take before it counts as failed (its connection is dropped).
    timeout: Duration,
    /// The `Authorization` header's value, when a key is sent.
    authorization: Option<String>,
}

impl Shared {
    /// Takes one request from the budget; false when it is spent.
    fn take(&self, now: Instant) -> bool {
        match &self.budget {
            // Warm-up requests are free.
            Some(_) if now < self.window.start => true,
            Some(left) => left
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok(),
            None => true,
        }
    }
}

/// A random purchase body.
fn purchase_body(rng: &mut impl Rng, pool: &[String], new_customers: f64) -> String {
    let branch = rng.random_range(1..=3);
    let customer = if pool.is_empty() || rng.random_bool(new_customers.clamp(0.0, 1.0)) {
        "new"
    } else {
        pool[rng.random_range(0..pool.len())].as_str()
    };
    let count = rng.random_range(1..=5);
    let items: Vec<String> = index::sample(rng, 30, count)
        .into_iter()
        .map(|i| format!("{{\"product_id\":{}}}", i + 1))
        .collect();
    format!(
        "{{\"supermarket_id\":{branch},\"user_id\":\"{customer}\",\"items\":[{}]}}",
        items.join(",")
    )
}

/// A batch of `size` random purchases, each with its client id and a sale time in the last
/// hour.
fn batch_body(rng: &mut impl Rng, pool: &[String], new_customers: f64, size: usize) -> String {
    let now = chrono::Utc::now();
    let purchases: Vec<String> = (0..size)
        .map(|_| {
            let purchase = purchase_body(rng, pool, new_customers);
            let client_id = uuid::Builder::from_random_bytes(rng.random()).into_uuid();
            let at = now - chrono::Duration::seconds(rng.random_range(0..3600));
            format!(
                "{{\"client_id\":\"{client_id}\",\"purchased_at\":\"{}\",{}",
                at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                &purchase[1..]
            )
        })
        .collect();
    format!("{{\"purchases\":[{}]}}", purchases.join(","))
}

/// Builds the next request of a client.
fn next_request(shared: &Shared, rng: &mut impl Rng) -> Request<Full<Bytes>> {
    let mut builder = Request::builder().header(hyper::header::HOST, &shared.target.addr);
    if let Some(authorization) = &shared.authorization {
        builder = builder.header(hyper::header::AUTHORIZATION, authorization);
    }
    let request = match &shared.scenario {
        Scenario::Purchase => builder
            .method(Method::POST)
            .uri(format!("{}/cash-register/purchase", shared.target.base))
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(purchase_body(
                rng,
                &shared.pool,
                shared.new_customers,
            )))),
        Scenario::Batch(size) => builder
            .method(Method::POST)
            .uri(format!(
                "{}/cash-register/purchases/batch",
                shared.target.base
            ))
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(batch_body(
                rng,
                &shared.pool,
                shared.new_customers,
                *size,
            )))),
        Scenario::Get(path) => builder
            .method(Method::GET)
            .uri(format!("{}{path}", shared.target.base))
            .body(Full::new(Bytes::new())),
    };
    request.expect("the request's parts are valid")
}

/// Opens a keep-alive HTTP/1.1 connection to the server.
async fn connect(target: &Target) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = TcpStream::connect(&target.addr)
        .await
        .map_err(|error| format!("cannot connect to {}: {error}", target.addr))?;
    stream
        .set_nodelay(true)
        .map_err(|error| error.to_string())?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|error| format!("HTTP handshake with {}: {error}", target.addr))?;
    tokio::spawn(connection);
    Ok(sender)
}

/// What came back for one request.
struct Answer {
    /// The status.
    status: u16,
    /// When the answer's head arrived.
    head_at: Instant,
    /// The whole body.
    body: Bytes,
}

/// One exchange within `timeout`: the answer, or what went wrong.
async fn exchange(
    sender: &mut SendRequest<Full<Bytes>>,
    request: Request<Full<Bytes>>,
    timeout: Duration,
) -> Result<Answer, String> {
    tokio::time::timeout(timeout, send(sender, request))
        .await
        .map_err(|_| format!("no answer within {} s", timeout.as_secs_f64()))?
}

/// One exchange: the answer, or what went wrong.
async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    request: Request<Full<Bytes>>,
) -> Result<Answer, String> {
    sender.ready().await.map_err(|error| error.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|error| error.to_string())?;
    let head_at = Instant::now();
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|error| error.to_string())?
        .to_bytes();
    Ok(Answer {
        status,
        head_at,
        body,
    })
}

/// One client: a connection, and requests back to back until the window or the budget ends.
async fn client(shared: Arc<Shared>, id: u64, seed: u64) -> ClientReport {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(id);
    let mut report = ClientReport {
        latencies: histogram(),
        first_bytes: histogram(),
        errors: 0,
        body_bytes: 0,
        first_error: None,
        last_done: None,
    };
    let mut sender: Option<SendRequest<Full<Bytes>>> = None;
    loop {
        let now = Instant::now();
        // Each client measures at least one request, even when its warm-up outlasted the window.
        let measured_one = report.last_done.is_some();
        if (shared.window.over(now) && measured_one) || !shared.take(now) {
            return report;
        }
        let request = next_request(&shared, &mut rng);
        let sent = Instant::now();
        let outcome = match &mut sender {
            Some(open) => exchange(open, request, shared.timeout).await,
            None => match connect(&shared.target).await {
                Ok(open) => exchange(sender.insert(open), request, shared.timeout).await,
                Err(error) => Err(error),
            },
        };
        let done = Instant::now();
        let measured = shared.window.measures(sent);
        let mut head_at = done;
        let error = match outcome {
            Ok(answer) if (200..300).contains(&answer.status) => {
                if measured {
                    report.body_bytes += answer.body.len() as u64;
                }
                head_at = answer.head_at;
                None
            }
            Ok(Answer { status, body, .. }) => Some(format!(
                "status {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            )),
            Err(error) => {
                // Reconnect for the next request, after a pause so that a server that is down
                // is not hammered.
                sender = None;
                tokio::time::sleep(Duration::from_millis(100)).await;
                Some(error)
            }
        };
        if measured {
            report.last_done = Some(done);
            record(&mut report.latencies, done.duration_since(sent));
            record(&mut report.first_bytes, head_at.duration_since(sent));
            if let Some(error) = error {
                report.errors += 1;
                report.first_error.get_or_insert(error);
            }
        }
    }
}

/// An empty latency histogram, in microseconds.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("the histogram's bounds are valid")
}

/// A quantile of a latency histogram, in milliseconds.
fn millis(histogram: &Histogram<u64>, quantile: f64) -> f64 {
    histogram.value_at_quantile(quantile) as f64 / 1000.0
}

/// Adds a client's latencies to the run's.
fn merge(into: &mut Histogram<u64>, from: &Histogram<u64>) -> Result<(), String> {
    into.add(from)
        .map_err(|error| format!("cannot merge the latencies: {error}"))
}

/// Records one latency in a histogram, clamped to what it holds.
fn record(histogram: &mut Histogram<u64>, latency: Duration) {
    let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
    histogram.saturating_record(micros.clamp(1, MAX_LATENCY_US));
}

/// Reads up to `size` distinct customer ids from the third column of a `purchases.csv`.
fn read_pool(path: &Path, size: usize) -> Result<Vec<String>, String> {
    let file =
        File::open(path).map_err(|error| format!("cannot open {}: {error}", path.display()))?;
    let mut seen = HashSet::new();
    let mut pool = Vec::new();
    // The header, then rows whose first three fields never hold a comma.
    for line in BufReader::new(file).lines().skip(1) {
        let line = line.map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        if let Some(id) = line.split(',').nth(2)
            && id.len() == 36
            && seen.insert(id.to_owned())
        {
            pool.push(id.to_owned());
            if pool.len() == size {
                break;
            }
        }
    }
    Ok(pool)
}

/// `size` random UUIDs drawn from `seed`, as lowercase hyphenated text.
fn random_pool(size: usize, seed: u64) -> Vec<String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..size)
        .map(|_| {
            uuid::Builder::from_random_bytes(rng.random())
                .into_uuid()
                .hyphenated()
                .to_string()
        })
        .collect()
}

/// The figures of a run.
struct Summary {
    /// The run's name.
    label: String,
    /// How many clients.
    clients: usize,
    /// The measured time, in seconds.
    seconds: f64,
    /// Measured requests.
    requests: u64,
    /// Measured requests that failed or were not 2xx.
    errors: u64,
    /// Mean body size of the successful answers, in bytes.
    mean_body_bytes: f64,
    /// All the clients' latencies, in microseconds.
    latencies: Histogram<u64>,
    /// All the clients' times to an answer's head, in microseconds.
    first_bytes: Histogram<u64>,
    /// How many purchases each request carries (1 but for batches).
    purchases_per_request: usize,
}

impl Summary {
    /// Requests per second.
    fn throughput(&self) -> f64 {
        if self.seconds > 0.0 {
            self.requests as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// A quantile of the latency, in milliseconds.
    fn ms(&self, quantile: f64) -> f64 {
        millis(&self.latencies, quantile)
    }

    /// A quantile of the time to an answer's head, in milliseconds.
    fn first_byte_ms(&self, quantile: f64) -> f64 {
        millis(&self.first_bytes, quantile)
    }

    /// One line of text.
    fn text(&self) -> String {
        format!(
            "{label}: clients={clients} requests={requests} errors={errors} rps={rps:.1} \
             p50={p50:.2}ms p90={p90:.2}ms p99={p99:.2}ms max={max:.2}ms body={body:.0}B \
             first_byte_p50={head50:.2}ms first_byte_p99={head99:.2}ms",
            label = self.label,
            clients = self.clients,
            requests = self.requests,
            errors = self.errors,
            rps = self.throughput(),
            p50 = self.ms(0.5),
            p90 = self.ms(0.9),
            p99 = self.ms(0.99),
            max = self.latencies.max() as f64 / 1000.0,
            body = self.mean_body_bytes,
            head50 = self.first_byte_ms(0.5),
            head99 = self.first_byte_ms(0.99),
        )
    }

    /// One JSON object.
    fn json(&self) -> String {
        serde_json::json!({
            "label": self.label,
            "clients": self.clients,
            "seconds": self.seconds,
            "requests": self.requests,
            "errors": self.errors,
            "rps": self.throughput(),
            "p50_ms": self.ms(0.5),
            "p90_ms": self.ms(0.9),
            "p99_ms": self.ms(0.99),
            "max_ms": self.latencies.max() as f64 / 1000.0,
            "mean_ms": self.latencies.mean() / 1000.0,
            "mean_body_bytes": self.mean_body_bytes,
            "first_byte_p50_ms": self.first_byte_ms(0.5),
            "first_byte_p99_ms": self.first_byte_ms(0.99),
            "purchases_per_request": self.purchases_per_request,
        })
        .to_string()
    }
}

/// Runs the clients and sums up what they measured.
async fn run(args: &Args) -> Result<Summary, String> {
    if args.clients == 0 {
        return Err("--clients must be at least 1".into());
    }
    let target = Target::parse(&args.url)?;
    let scenario = match args.scenario.as_str() {
        "purchase" => Scenario::Purchase,
        "batch" => Scenario::Batch(args.batch_size.max(1)),
        path if path.starts_with('/') => Scenario::Get(path.to_owned()),
        other => {
            return Err(format!(
                "--scenario {other}: expected `purchase`, `batch` or a path starting with /"
            ));
        }
    };
    let pool = match (&scenario, &args.customer_pool) {
        (Scenario::Get(_), _) => Vec::new(),
        (Scenario::Purchase | Scenario::Batch(_), Some(path)) => read_pool(path, args.pool_size)?,
        (Scenario::Purchase | Scenario::Batch(_), None) => random_pool(args.pool_size, args.seed),
    };
    let duration = match (args.duration, args.requests) {
        (Some(seconds), _) => Some(seconds),
        (None, Some(_)) => None,
        (None, None) => Some(10.0),
    };
    let to_duration = |seconds: f64, flag: &str| {
        Duration::try_from_secs_f64(seconds)
            .map_err(|_| format!("--{flag} {seconds}: not a number of seconds"))
    };
    let begun = Instant::now();
    let start = begun + to_duration(args.warmup, "warmup")?;
    let end = duration
        .map(|seconds| to_duration(seconds, "duration").map(|d| start + d))
        .transpose()?;
    let purchases_per_request = match scenario {
        Scenario::Batch(size) => size,
        Scenario::Purchase | Scenario::Get(_) => 1,
    };
    let shared = Arc::new(Shared {
        target,
        scenario,
        window: Window { start, end },
        budget: args.requests.map(AtomicU64::new),
        pool,
        new_customers: args.new_customers,
        timeout: to_duration(args.timeout, "timeout")?,
        authorization: args.key.as_ref().map(|key| format!("Bearer {key}")),
    });
    let clients: Vec<_> = (0..args.clients as u64)
        .map(|id| tokio::spawn(client(shared.clone(), id, args.seed)))
        .collect();
    let (mut latencies, mut first_bytes) = (histogram(), histogram());
    let (mut errors, mut body_bytes, mut first_error, mut last_done) = (0, 0, None, None);
    for handle in clients {
        let report = handle
            .await
            .map_err(|error| format!("a client failed: {error}"))?;
        merge(&mut latencies, &report.latencies)?;
        merge(&mut first_bytes, &report.first_bytes)?;
        errors += report.errors;
        body_bytes += report.body_bytes;
        first_error = first_error.or(report.first_error);
        last_done = last_done.max(report.last_done);
    }
    let requests = latencies.len();
    if let Some(error) = first_error {
        eprintln!("loadgen: {errors} error(s); the first: {error}");
    }
    let ok = requests.saturating_sub(errors);
    Ok(Summary {
        label: args.label.clone().unwrap_or_else(|| args.scenario.clone()),
        clients: args.clients,
        seconds: end
            .max(last_done)
            .unwrap_or(start)
            .saturating_duration_since(start)
            .as_secs_f64(),
        requests,
        errors,
        mean_body_bytes: if ok > 0 {
            body_bytes as f64 / ok as f64
        } else {
            0.0
        },
        latencies,
        first_bytes,
        purchases_per_request,
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("loadgen: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(summary) => {
            if args.json {
                println!("{}", summary.json());
            } else {
                println!("{}", summary.text());
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("loadgen: {error}");
            ExitCode::FAILURE
        }
    }
}
