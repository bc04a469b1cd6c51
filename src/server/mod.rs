//! The icash server's start-up, as `cargo run --example server` and the Docker image run it:
//! the HTTP contract over PostgreSQL, or over the in-memory store.
//!
//! [`run`] connects to the database and migrates it (or takes the in-memory store when
//! [`Config::database_url`] is unset), listens, loads the data directory into an empty store
//! while only the probes and the index answer (`/readyz` says 503 until the load has
//! finished), then serves every endpoint until Ctrl-C or SIGTERM ([`run_until`]: until a future of the caller's), letting the
//! requests in flight finish. On PostgreSQL it also proves the loaded rows' foreign keys and
//! purges expired idempotency keys in the background. It keeps Prometheus metrics from the
//! start, the load's progress included: `/metrics` answers admin keys on the API's address,
//! and anyone on [`Config::metrics_addr`] when that is set. [`main`] adds what a program needs
//! around it: logging, and an exit status.
//!
//! ```no_run
//! use clap::Parser;
//!
//! #[tokio::main]
//! async fn main() -> std::process::ExitCode {
//!     icash::server::main(icash::server::Config::parse()).await
//! }
//! ```

mod config;
mod database_url;
mod keys;
mod metrics;
mod migrate;
mod progress;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use icash_core::{MemoryStore, Store};
use icash_postgres::PgStore;
use tracing_subscriber::EnvFilter;
use warp::Filter as _;

pub use config::{Command, Config, LogFormat, Migrations};
pub use database_url::DatabaseUrl;
pub use keys::{AdminKey, Auth, KeysCommand};

use crate::data::{DataError, LoadProgress, load_dir_with_progress};

/// Why the server could not start (or stopped listening): each is logged as one line before
/// the process exits non-zero.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// `DATABASE_URL` does not parse as a PostgreSQL URL.
    #[error("DATABASE_URL is not a PostgreSQL URL: {0}")]
    DatabaseUrl(sqlx::Error),
    /// `ICASH_READ_DATABASE_URL` does not parse as a list of PostgreSQL URLs.
    #[error("ICASH_READ_DATABASE_URL is not a list of PostgreSQL URLs: {0}")]
    ReadDatabaseUrl(sqlx::Error),
    /// The database cannot be reached or migrated. The message gives every cause, for an
    /// operator.
    #[error("cannot use the database at DATABASE_URL: {}", describe(.0))]
    Database(icash_core::Error),
    /// The data directory's files cannot be loaded; the store is as it was.
    #[error("cannot load {}: {error}", dir.display())]
    Load {
        /// The data directory.
        dir: PathBuf,
        /// Why.
        error: DataError,
    },
    /// The address cannot be listened on.
    #[error("cannot listen on {addr}: {error}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        error: std::io::Error,
    },
    /// The listening socket has no local address.
    #[error("{0}")]
    LocalAddr(std::io::Error),
    /// The Prometheus recorder cannot be installed (another `metrics` recorder is).
    #[error("cannot record metrics: {0}")]
    Metrics(String),
    /// With `ICASH_MIGRATIONS=check`, the database lacks migrations of this server.
    #[error(
        "the database lacks {0} of this server's migrations; ICASH_MIGRATIONS=check leaves the schema to its owner: apply them with the `migrate` command as the schema's owner"
    )]
    MissingMigrations(usize),
    /// The `migrate` command without a database.
    #[error("the migrate command applies the migrations of the database DATABASE_URL names")]
    MigrateInMemory,
    /// A `keys` command without a database: the in-memory store lives only in a server.
    #[error(
        "the keys commands manage the keys of the database DATABASE_URL names; with the in-memory store, use POST /admin/keys on the running server"
    )]
    KeysInMemory,
    /// Reading or changing the API keys failed.
    #[error("{0}")]
    Keys(icash_core::Error),
    /// `ICASH_ADMIN_KEY` cannot be registered: it was revoked, or its name is taken.
    #[error(
        "ICASH_ADMIN_KEY cannot be registered: it is a revoked key, or another key has its name"
    )]
    AdminKeyRevoked,
}

impl From<icash_core::Error> for StartError {
    fn from(error: icash_core::Error) -> StartError {
        StartError::Keys(error)
    }
}

/// Runs the server as a program: sets up the logs as `config` says (see [`init_logs`]), runs
/// [`run`], and turns its outcome into the exit status, logging why it failed.
pub async fn main(config: Config) -> ExitCode {
    let outcome = match config.command.clone() {
        Some(command) => {
            // A command's standard output is its answer: the logs go to standard error.
            tracing_subscriber::fmt()
                .with_env_filter(
                    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
                )
                .with_writer(std::io::stderr)
                .init();
            match command {
                Command::Keys(command) => keys::run(&config, command).await,
                Command::Migrate { grant } => migrate::run(&config, grant.as_deref()).await,
            }
        }
        None => {
            init_logs(config.log_format);
            run(config).await
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            ExitCode::FAILURE
        }
    }
}

/// Installs the global log subscriber: `format` lines on standard output, at the level
/// `RUST_LOG` sets (default `info`), coloured on a terminal.
///
/// # Panics
/// When a global subscriber is already installed.
pub fn init_logs(format: LogFormat) {
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

/// Starts the server as `config` says and serves until Ctrl-C or SIGTERM, then returns once
/// the requests in flight have finished. Fails when the database cannot be used or the address
/// cannot be listened on (before it listens), or when the data files cannot be loaded (before
/// it serves more than the probes).
pub async fn run(config: Config) -> Result<(), StartError> {
    run_until(config, shutdown_signal()).await
}

/// [`run`], stopping when `shutdown` resolves instead of on a signal: for a host that has its
/// own way of stopping.
pub async fn run_until(
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    // Finished once the data files are loaded: what `/readyz` and the metrics both report.
    let startup = icash_http::Startup::pending();
    // Before the database and the load, so that the load's progress can be watched.
    let (exposition, upkeep) = metrics::Exposition::install(startup.clone())?;
    let upkeep = AbortOnDrop(upkeep);
    let metrics_listener = match config.metrics_addr {
        Some(addr) => Some(metrics::listen(addr, config.connection_limits(), &exposition).await?),
        None => None,
    };
    let mut postgres = None;
    let store: Arc<dyn Store> = match config.pg_store().await? {
        Some(store) => {
            if config.migrations == Migrations::Check {
                migrate::check(&store).await?;
                tracing::info!("connected to PostgreSQL; its schema has every migration");
            } else {
                tracing::info!("connected to PostgreSQL and applied the migrations");
            }
            tokio::spawn(purge_expired_keys(store.clone()));
            exposition.set_store(store.clone());
            postgres = Some(store.clone());
            Arc::new(store)
        }
        None => {
            tracing::warn!(
                "DATABASE_URL is not set: using the in-memory store, nothing is kept when the server stops"
            );
            Arc::new(
                MemoryStore::new()
                    .with_time_zone(config.time_zone)
                    .with_idempotency_ttl(config.idempotency_ttl()),
            )
        }
    };
    keys::first_admin_key(store.as_ref(), &config).await?;
    // Listen before the load, so that the probes answer while it runs: `/livez` says the
    // process is up, `/readyz` says it is not ready yet, and the endpoints that use the store
    // answer 503 until the load has finished.
    let api = icash_http::ui()
        .or(icash_http::api(
            store.clone(),
            icash_http::ApiConfig {
                startup: startup.clone(),
                metrics: Some(exposition.scrape()),
                ..config.api_config()
            },
        ))
        .unify()
        .boxed();
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|error| StartError::Listen {
            addr: config.addr,
            error,
        })?;
    let addr = listener.local_addr().map_err(StartError::LocalAddr)?;
    tracing::info!(%addr, "answering the probes on http://{addr} during the start-up");
    let (load_failed, stop_serving) = tokio::sync::oneshot::channel::<()>();
    let stop = async move {
        tokio::select! {
            () = shutdown => {}
            _ = stop_serving => {}
        }
    };
    // Not warp's own graceful shutdown: it resets connections whose request is sent but not
    // read yet (see icash_http::serve).
    let limits = config.connection_limits();
    let serving = icash_http::serve(listener, api, stop, &limits);
    let mut serving = std::pin::pin!(serving);
    let loading = load_data(store.as_ref(), &config, exposition.load_progress());
    let loaded = tokio::select! {
        loaded = loading => Some(loaded),
        // Stopped during the start-up: the load's import is dropped, and discarded with it.
        () = &mut serving => None,
    };
    let mut rollup = None;
    let served = match loaded {
        None => {
            tracing::info!("stopped during the start-up");
            Ok(())
        }
        Some(Err(error)) => {
            let _ = load_failed.send(());
            serving.await;
            Err(error)
        }
        Some(Ok(())) => {
            startup.finish();
            if let Some(postgres) = postgres {
                // Aborted when the server returns: the runtime may outlive it in a test.
                rollup = Some(AbortOnDrop(tokio::spawn(
                    postgres.clone().roll_up_forever(ROLLUP_INTERVAL),
                )));
                tokio::spawn(validate_foreign_keys(postgres));
            }
            tracing::info!(%addr, "listening on http://{addr}");
            serving.await;
            tracing::info!("stopped after the requests in flight finished");
            Ok(())
        }
    };
    if let Some(listener) = metrics_listener {
        listener.stop().await;
    }
    drop(rollup);
    drop(upkeep);
    served
}

/// How often the rollup folds the purchases recorded meanwhile into the customer sets (see
/// [`PgStore::roll_up`]): reads add the purchases not folded yet, so this bounds how many they
/// read, not whether they are exact.
const ROLLUP_INTERVAL: Duration = Duration::from_millis(500);

/// Aborts its task when dropped: a task that would otherwise outlive the server it serves.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Loads the data directory into an empty store; a missing directory only means nothing to load.
async fn load_data(
    store: &dyn Store,
    config: &Config,
    progress: Arc<LoadProgress>,
) -> Result<(), StartError> {
    let dir = &config.data_dir;
    if !dir.is_dir() {
        tracing::warn!(dir = %dir.display(), "no data directory: nothing loaded");
        return Ok(());
    }
    let display = tokio::spawn(progress::show(Arc::clone(&progress)));
    let started = Instant::now();
    let loaded = load_dir_with_progress(store, dir, config.import_policy(), progress).await;
    display.abort();
    let report = loaded.map_err(|error| StartError::Load {
        dir: dir.clone(),
        error,
    })?;
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
