//! The icash server: the HTTP contract over PostgreSQL, or over the in-memory store.
//!
//! ```text
//! cargo run --example server                                   # in memory, nothing kept
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/icash cargo run --example server
//! cargo run --example server -- --help                         # every setting
//! ```
//!
//! At start it migrates the database, loads the data directory's CSV files into an empty store,
//! and serves until Ctrl-C or SIGTERM, letting the requests in flight finish.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use icash::core::idempotency::DEFAULT_TTL;
use icash::core::import::Policy;
use icash::core::{MemoryStore, Store};
use icash::data::{LoadProgress, load_dir_with_progress};
use icash::http::{ApiConfig, Cors, DEFAULT_BODY_LIMIT, DEFAULT_DRAIN};
use icash::postgres::{PgConfig, PgStore};
use tracing_subscriber::EnvFilter;

// With glibc's allocator, a 10M-purchase load left the server at 75 MiB resident for the rest
// of its life (its arenas kept what the loader freed); with jemalloc it drops to about 20 MiB,
// within a second or so with the settings in .cargo/config.toml.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Serves the icash HTTP API.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Config {
    /// PostgreSQL URL, such as postgres://user:password@host:5432/icash. When unset, the
    /// in-memory store is used and nothing is kept when the server stops.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,

    /// Directory of products_list.csv and purchases.csv, loaded into the store at start when
    /// it has no purchases yet.
    #[arg(long, env = "ICASH_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,

    /// Address to listen on.
    #[arg(long, env = "ICASH_ADDR", default_value = "127.0.0.1:8000")]
    addr: SocketAddr,

    /// Load the good rows of the data files and report the bad ones, instead of refusing
    /// files that have any bad row.
    #[arg(long, env = "ICASH_LENIENT_IMPORT")]
    lenient_import: bool,

    /// How long an Idempotency-Key is honoured, in seconds.
    #[arg(long, env = "ICASH_IDEMPOTENCY_TTL_SECS", default_value_t = DEFAULT_TTL.as_secs())]
    idempotency_ttl_secs: u64,

    /// The longest a database statement may run, in seconds, before it is cancelled and the
    /// request answered 503; 0 for no limit. Loading the data files is exempt.
    #[arg(long, env = "ICASH_STATEMENT_TIMEOUT_SECS", default_value_t = 30)]
    statement_timeout_secs: u64,

    /// How many customers loading the data files sums in memory before handing partial sums to
    /// PostgreSQL: it bounds the load's memory (about 145 bytes a customer at the most).
    #[arg(long, env = "ICASH_LOAD_CUSTOMER_SUMS", default_value_t = PgConfig::default().load_customer_sums)]
    load_customer_sums: usize,

    /// Largest request body accepted, in bytes.
    #[arg(long, env = "ICASH_BODY_LIMIT", default_value_t = DEFAULT_BODY_LIMIT)]
    body_limit: u64,

    /// Origins allowed by CORS, comma-separated; any origin when unset.
    #[arg(long, env = "ICASH_CORS_ORIGINS", value_delimiter = ',')]
    cors_origins: Vec<String>,

    /// Log format; the level is set by RUST_LOG (default info).
    #[arg(long, env = "ICASH_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

/// How logs are written.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

fn init_logs(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let colour = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour);
    match format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    init_logs(config.log_format);
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> Result<(), String> {
    let idempotency_ttl = Duration::from_secs(config.idempotency_ttl_secs);
    let mut postgres = None;
    let store: Arc<dyn Store> = match &config.database_url {
        Some(url) => {
            let options = url
                .parse()
                .map_err(|error| format!("DATABASE_URL is not a PostgreSQL URL: {error}"))?;
            let pg_config = PgConfig {
                idempotency_ttl,
                statement_timeout: (config.statement_timeout_secs > 0)
                    .then(|| Duration::from_secs(config.statement_timeout_secs)),
                load_customer_sums: config.load_customer_sums,
                ..PgConfig::default()
            };
            let store = PgStore::connect_with(options, &pg_config)
                .await
                .map_err(|error| {
                    format!(
                        "cannot use the database at DATABASE_URL: {}",
                        describe(&error)
                    )
                })?;
            tracing::info!("connected to PostgreSQL and applied the migrations");
            tokio::spawn(purge_expired_keys(store.clone()));
            postgres = Some(store.clone());
            Arc::new(store)
        }
        None => {
            tracing::warn!(
                "DATABASE_URL is not set: using the in-memory store, nothing is kept when the server stops"
            );
            Arc::new(MemoryStore::new().with_idempotency_ttl(idempotency_ttl))
        }
    };
    load_data(store.as_ref(), &config).await?;
    if let Some(postgres) = postgres {
        tokio::spawn(validate_foreign_keys(postgres));
    }

    let api = icash::http::api(store, api_config(&config));
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|error| format!("cannot listen on {}: {error}", config.addr))?;
    let addr = listener.local_addr().map_err(|error| error.to_string())?;
    tracing::info!(%addr, "listening on http://{addr}");
    // Not warp's own graceful shutdown: it resets connections whose request is sent but not
    // read yet (see icash_http::serve).
    icash::http::serve(listener, api, shutdown_signal(), DEFAULT_DRAIN).await;
    tracing::info!("stopped after the requests in flight finished");
    Ok(())
}

fn api_config(config: &Config) -> ApiConfig {
    ApiConfig {
        body_limit: config.body_limit,
        cors: if config.cors_origins.is_empty() {
            Cors::AnyOrigin
        } else {
            Cors::Origins(config.cors_origins.clone())
        },
        ..ApiConfig::default()
    }
}

/// Loads the data directory into an empty store; a missing directory only means nothing to load.
async fn load_data(store: &dyn Store, config: &Config) -> Result<(), String> {
    if !config.data_dir.is_dir() {
        tracing::warn!(dir = %config.data_dir.display(), "no data directory: nothing loaded");
        return Ok(());
    }
    let policy = if config.lenient_import {
        Policy::Lenient
    } else {
        Policy::Strict
    };
    let progress = Arc::new(LoadProgress::default());
    let display = tokio::spawn(show_progress(Arc::clone(&progress)));
    let started = Instant::now();
    let loaded = load_dir_with_progress(store, &config.data_dir, policy, progress).await;
    display.abort();
    let report =
        loaded.map_err(|error| format!("cannot load {}: {error}", config.data_dir.display()))?;
    if report.skipped {
        tracing::info!("the store already has purchases: the data files were not loaded again");
    } else {
        let seconds = started.elapsed().as_secs_f64();
        let purchases_per_second = (report.purchases as f64 / seconds.max(1e-3)).round();
        tracing::info!(
            products = report.products,
            purchases = report.purchases,
            seconds,
            purchases_per_second,
            "loaded the data files"
        );
    }
    for row in &report.rejected.rows {
        tracing::warn!("left out {row}");
    }
    Ok(())
}

/// Shows how far a long load has got: a bar with its rate and ETA on a terminal, a log line
/// every ten seconds otherwise; once the files are read, that the store is finishing (its
/// indexes and aggregates), which the bytes read cannot time. Runs until aborted.
async fn show_progress(progress: Arc<LoadProgress>) {
    const FINISHING: &str = "the files are read; the store is building its indexes and aggregates";
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "loading {bar:40} {percent:>3}% {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
            )
            .expect("a valid template"),
        );
        let _clear = scopeguard(bar.clone());
        while !progress.all_read() {
            bar.set_length(progress.total_bytes());
            bar.set_position(progress.bytes_read());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .expect("a valid template"),
        );
        bar.reset_elapsed();
        bar.set_message(FINISHING);
        bar.enable_steady_tick(Duration::from_millis(200));
        std::future::pending::<()>().await;
    } else {
        let started = Instant::now();
        let mut every = tokio::time::interval(Duration::from_secs(10));
        every.tick().await;
        loop {
            every.tick().await;
            if progress.all_read() {
                let seconds = started.elapsed().as_secs();
                tracing::info!(seconds, "loading: {FINISHING}");
                continue;
            }
            let (read, total) = (progress.bytes_read(), progress.total_bytes());
            let rate = read as f64 / started.elapsed().as_secs_f64();
            let eta_seconds = ((total.saturating_sub(read)) as f64 / rate.max(1.0)).round();
            let percent = (100 * read).checked_div(total).unwrap_or(0);
            tracing::info!(
                percent,
                mib_read = read >> 20,
                mib_per_second = (rate / 1048576.0 * 10.0).round() / 10.0,
                eta_seconds,
                "loading"
            );
        }
    }
}

/// Clears the progress bar when its display task ends (it is aborted when the load ends).
fn scopeguard(bar: indicatif::ProgressBar) -> impl Drop {
    struct Clear(indicatif::ProgressBar);
    impl Drop for Clear {
        fn drop(&mut self) {
            self.0.finish_and_clear();
        }
    }
    Clear(bar)
}

/// Proves the rows of a bulk load against the foreign keys it left `NOT VALID` (see
/// [`PgStore::validate_foreign_keys`]), while the server serves.
async fn validate_foreign_keys(store: PgStore) {
    let started = Instant::now();
    match store.validate_foreign_keys().await {
        Ok(0) => {}
        Ok(validated) => tracing::info!(
            validated,
            seconds = started.elapsed().as_secs_f64(),
            "validated the loaded rows' foreign keys"
        ),
        Err(error) => tracing::error!(%error, "the loaded rows fail a foreign key"),
    }
}

/// Deletes expired idempotency keys every hour, so that the table stays small. (Expired keys
/// are ignored anyway; the in-memory store forgets them as it goes.)
async fn purge_expired_keys(store: PgStore) {
    let mut hourly = tokio::time::interval(Duration::from_secs(60 * 60));
    loop {
        hourly.tick().await;
        match store.purge_expired_keys().await {
            Ok(purged) => tracing::info!(purged, "purged expired idempotency keys"),
            Err(error) => {
                tracing::warn!(%error, "cannot purge expired idempotency keys; will retry")
            }
        }
    }
}

/// The error and its causes, for an operator (never for a client).
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C: finishing the requests in flight"),
        () = terminate => tracing::info!("SIGTERM: finishing the requests in flight"),
    }
}
