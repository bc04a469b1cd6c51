//! The server's settings: each a command-line flag and an environment variable, with its default.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use icash_core::idempotency::DEFAULT_TTL;
use icash_core::import::Policy;
use icash_core::offline::DEFAULT_WINDOW_DAYS;
use icash_core::{OfflineWindow, TimeZone};
use icash_http::{
    ApiConfig, AuthMode, ConnectionLimits, Cors, DEFAULT_BATCH_BODY_LIMIT, DEFAULT_BODY_LIMIT,
    RateLimits,
};
use icash_postgres::{PgConfig, PgStore, hosts};

use super::keys::{AdminKey, Auth, KeysCommand};
use super::{DatabaseUrl, StartError};

/// Serves the icash HTTP API.
///
/// Parse it with [`clap::Parser`] (`Config::parse()` reads the command line and the
/// environment), then hand it to [`run`](super::run) or [`main`](super::main).
#[derive(Clone, Debug, Parser)]
// The help opens with the package description; the doc comment above is for rustdoc.
#[command(version, about, long_about = None)]
pub struct Config {
    /// PostgreSQL URL, such as postgres://user:password@host:5432/icash; it may name several
    /// hosts (postgres://user@db1:5432,db2:5432/icash), of which the one not in recovery takes
    /// the writes. When unset, the in-memory store is used and nothing is kept when the server
    /// stops.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<DatabaseUrl>,

    /// Standbys to read from (analytics, the dashboard, customer lists, receipts): one or more
    /// PostgreSQL URLs, comma-separated, each of which may name several hosts. Unset, every
    /// read goes to the primary.
    #[arg(long, env = "ICASH_READ_DATABASE_URL", hide_env_values = true)]
    pub read_database_url: Option<DatabaseUrl>,

    /// How far behind the primary, in milliseconds, a standby may be and still serve reads.
    #[arg(long, env = "ICASH_MAX_REPLICA_LAG_MS", default_value_t = 1000)]
    pub max_replica_lag_ms: u64,

    /// Directory of products_list.csv and purchases.csv, loaded into the store at start when
    /// it has no purchases yet.
    #[arg(long, env = "ICASH_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Address to listen on.
    #[arg(long, env = "ICASH_ADDR", default_value = "127.0.0.1:8000")]
    pub addr: SocketAddr,

    /// Address to serve /metrics on, in Prometheus's text format, without a key: bind it to a
    /// private interface only. Unset: /metrics is served on the API's address only, to admin
    /// keys.
    #[arg(long, env = "ICASH_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,

    /// Load the good rows of the data files and report the bad ones, instead of refusing
    /// files that have any bad row.
    #[arg(long, env = "ICASH_LENIENT_IMPORT")]
    pub lenient_import: bool,

    /// How long an Idempotency-Key is honoured, in seconds.
    #[arg(long, env = "ICASH_IDEMPOTENCY_TTL_SECS", default_value_t = DEFAULT_TTL.as_secs())]
    pub idempotency_ttl_secs: u64,

    /// The longest a database statement may run, in seconds, before it is cancelled and the
    /// request answered 503; 0 for no limit. Loading the data files is exempt.
    #[arg(long, env = "ICASH_STATEMENT_TIMEOUT_SECS", default_value_t = 30)]
    pub statement_timeout_secs: u64,

    /// How many customers loading the data files sums in memory before handing partial sums to
    /// PostgreSQL: it bounds the load's memory (about 145 bytes a customer at the most).
    #[arg(long, env = "ICASH_LOAD_CUSTOMER_SUMS", default_value_t = PgConfig::default().load_customer_sums)]
    pub load_customer_sums: usize,

    /// The IANA time zone of the branches the store creates (such as Asia/Jerusalem): their
    /// business days, and the times of their data files, are read in it. Branches that exist
    /// keep theirs (change them with PUT /branches/{id}).
    #[arg(long, env = "ICASH_TIME_ZONE", default_value = "UTC")]
    pub time_zone: TimeZone,

    /// Largest request body accepted, in bytes.
    #[arg(long, env = "ICASH_BODY_LIMIT", default_value_t = DEFAULT_BODY_LIMIT)]
    pub body_limit: u64,

    /// Largest body of a batch of purchases (`POST /cash-register/purchases/batch`), in bytes.
    #[arg(long, env = "ICASH_BATCH_BODY_LIMIT", default_value_t = DEFAULT_BATCH_BODY_LIMIT)]
    pub batch_body_limit: u64,

    /// How many days old a sale a till that was offline hands in may be.
    #[arg(long, env = "ICASH_OFFLINE_WINDOW_DAYS", default_value_t = DEFAULT_WINDOW_DAYS)]
    pub offline_window_days: u32,

    /// Origins allowed by CORS, comma-separated; any origin when unset.
    #[arg(long, env = "ICASH_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// How long a client may take to send a request's head once its first byte arrived, in
    /// seconds; then the connection is closed.
    #[arg(long, env = "ICASH_HEAD_TIMEOUT_SECS", default_value_t = limits().head_timeout.as_secs())]
    pub head_timeout_secs: u64,

    /// How long a connection may stay idle between requests, in seconds, before it is closed.
    #[arg(long, env = "ICASH_KEEP_ALIVE_SECS", default_value_t = limits().keep_alive.as_secs())]
    pub keep_alive_secs: u64,

    /// How long writing a response may make no progress (the client reads nothing), in
    /// seconds, before the connection is closed and what the response holds is freed.
    #[arg(long, env = "ICASH_WRITE_TIMEOUT_SECS", default_value_t = limits().write_timeout.as_secs())]
    pub write_timeout_secs: u64,

    /// How many connections are served at once; further ones wait in the listener's queue.
    #[arg(long, env = "ICASH_MAX_CONNECTIONS", default_value_t = limits().max_connections)]
    pub max_connections: usize,

    /// How long a shutdown waits for the requests in flight, in seconds, before it drops the
    /// connections left and exits.
    #[arg(long, env = "ICASH_SHUTDOWN_TIMEOUT_SECS", default_value_t = limits().shutdown_timeout.as_secs())]
    pub shutdown_timeout_secs: u64,

    /// Log format; the level is set by RUST_LOG (default info).
    #[arg(long, env = "ICASH_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Whether requests need an API key: `required`, or `off` for the old clients that have no
    /// credentials (everything is then allowed to anyone who can reach the server).
    #[arg(long, env = "ICASH_AUTH", value_enum, default_value_t = Auth::Required)]
    pub auth: Auth,

    /// An administrator API key to register at start instead of a generated one (for
    /// automation: Docker Compose, tests), of at least 32 visible characters; empty for none.
    /// Prefer the environment variable: other users of a machine can read a command line.
    #[arg(long, env = "ICASH_ADMIN_KEY", hide_env_values = true, default_value = "",
        hide_default_value = true, value_parser = AdminKey::parse)]
    pub admin_key: AdminKey,

    /// Requests per second each API key may make, in bursts of as many; 0 for no limit.
    #[arg(long, env = "ICASH_KEY_RATE_PER_SEC", default_value_t = 200)]
    pub key_rate_per_sec: u32,

    /// Failed authentications per minute a client address may make, in bursts of as many,
    /// before it is answered 429 until its budget refills; 0 for no limit.
    #[arg(long, env = "ICASH_AUTH_FAILURES_PER_MIN", default_value_t = 10)]
    pub auth_failures_per_min: u32,

    /// Whether the server applies the migrations the database lacks at start (`apply`), or
    /// leaves the schema alone (`check`): for a role that cannot change it, the schema's owner
    /// having run `migrate --grant <role>`. With `check`, a database that lacks a migration is
    /// refused at start.
    #[arg(long, env = "ICASH_MIGRATIONS", value_enum, default_value_t = Migrations::Apply)]
    pub migrations: Migrations,

    /// What to do instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What the program does instead of serving.
#[derive(Clone, Debug, Subcommand)]
pub enum Command {
    /// Manages the API keys of the database DATABASE_URL names (with the in-memory store, use
    /// the HTTP endpoints under /admin/keys).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Applies the migrations the database DATABASE_URL names lacks, as the schema's owner,
    /// and exits.
    Migrate {
        /// A role to let serve from the database: read and write its data, never change its
        /// schema (run `migrate --grant` again after each upgrade).
        #[arg(long)]
        grant: Option<String>,
    },
}

/// Who changes the schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Migrations {
    /// The server applies the migrations the database lacks at start.
    Apply,
    /// The server never changes the schema, and refuses a database that lacks a migration.
    Check,
}

/// How logs are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Config {
    /// How long an idempotency key is honoured.
    pub fn idempotency_ttl(&self) -> Duration {
        Duration::from_secs(self.idempotency_ttl_secs)
    }

    /// How the data files are loaded.
    pub fn import_policy(&self) -> Policy {
        if self.lenient_import {
            Policy::Lenient
        } else {
            Policy::Strict
        }
    }

    /// The PostgreSQL store's settings: the defaults, with this configuration's limits.
    pub fn pg_config(&self) -> PgConfig {
        PgConfig {
            idempotency_ttl: self.idempotency_ttl(),
            statement_timeout: (self.statement_timeout_secs > 0)
                .then(|| Duration::from_secs(self.statement_timeout_secs)),
            load_customer_sums: self.load_customer_sums,
            apply_migrations: self.migrations == Migrations::Apply,
            max_replica_lag: Duration::from_millis(self.max_replica_lag_ms),
            time_zone: self.time_zone,
            ..PgConfig::default()
        }
    }

    /// The PostgreSQL store `database_url` names (with its standbys of `read_database_url`),
    /// connected and migrated; `None` without a database URL.
    pub async fn pg_store(&self) -> Result<Option<PgStore>, StartError> {
        let Some(url) = &self.database_url else {
            return Ok(None);
        };
        let servers = hosts::connect_options(url).map_err(StartError::DatabaseUrl)?;
        let replicas = match &self.read_database_url {
            Some(urls) => hosts::connect_options(urls).map_err(StartError::ReadDatabaseUrl)?,
            None => Vec::new(),
        };
        let store = PgStore::connect_to(servers, replicas, &self.pg_config())
            .await
            .map_err(StartError::Database)?;
        Ok(Some(store))
    }

    /// How connections are served: the defaults, with this configuration's limits.
    pub fn connection_limits(&self) -> ConnectionLimits {
        ConnectionLimits {
            head_timeout: Duration::from_secs(self.head_timeout_secs),
            keep_alive: Duration::from_secs(self.keep_alive_secs),
            write_timeout: Duration::from_secs(self.write_timeout_secs),
            max_connections: self.max_connections,
            shutdown_timeout: Duration::from_secs(self.shutdown_timeout_secs),
            ..ConnectionLimits::default()
        }
    }

    /// The HTTP API's settings: the defaults, with this configuration's body limit, CORS and
    /// authentication.
    pub fn api_config(&self) -> ApiConfig {
        ApiConfig {
            body_limit: self.body_limit,
            batch_body_limit: self.batch_body_limit,
            offline_window: OfflineWindow::days(self.offline_window_days),
            cors: if self.cors_origins.is_empty() {
                Cors::AnyOrigin
            } else {
                Cors::Origins(self.cors_origins.clone())
            },
            rate_limits: RateLimits {
                per_key_per_second: NonZeroU32::new(self.key_rate_per_sec),
                failures_per_minute: NonZeroU32::new(self.auth_failures_per_min),
            },
            auth: match self.auth {
                Auth::Required => AuthMode::Required,
                Auth::Off => AuthMode::Off,
            },
            ..ApiConfig::default()
        }
    }
}

/// The default connection limits, which the flags' defaults show.
fn limits() -> ConnectionLimits {
    ConnectionLimits::default()
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::Config;

    #[test]
    fn debug_output_hides_the_database_password() {
        let config = Config::try_parse_from([
            "server",
            "--database-url",
            "postgres://icash:s3cret-pw@db:5432/icash",
            "--read-database-url",
            "postgres://icash:r3ad-pw@r1,r2/icash,postgres://icash:r3ad-pw@r3/icash",
        ])
        .unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains("s3cret-pw"), "{debug}");
        assert!(!debug.contains("r3ad-pw"), "{debug}");
        assert!(
            debug.contains("postgres://icash:***@db:5432/icash"),
            "{debug}"
        );
        assert_eq!(
            config.database_url.as_deref(),
            Some("postgres://icash:s3cret-pw@db:5432/icash")
        );
    }

    #[test]
    fn new_branches_take_the_configured_zone_and_an_unknown_one_is_refused() {
        let default = Config::try_parse_from(["server"]).unwrap();
        assert_eq!(default.time_zone, icash_core::TimeZone::UTC);
        let config = Config::try_parse_from(["server", "--time-zone", "Asia/Kolkata"]).unwrap();
        assert_eq!(config.pg_config().time_zone.name(), "Asia/Kolkata");
        let error = Config::try_parse_from(["server", "--time-zone", "Mars/Olympus"])
            .unwrap_err()
            .to_string();
        assert!(error.contains("expected an IANA time zone name"), "{error}");
    }
}
