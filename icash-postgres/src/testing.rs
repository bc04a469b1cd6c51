//! [`TestDb`]: a fresh, migrated PostgreSQL database for one test, dropped at its end.
//!
//! Where the database comes from:
//! 1. `ICASH_TEST_DATABASE_URL`, a server URL such as `postgres://postgres@127.0.0.1:5432`: a
//!    new database is created on that server for each test;
//! 2. otherwise a PostgreSQL container started with testcontainers (Docker must be running);
//! 3. with neither, the test fails with a message that says how to provide one. It never
//!    passes without having run.

use std::ops::Deref;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, Executor, PgConnection};
use testcontainers_modules::postgres::Postgres;
use testcontainers_modules::testcontainers::runners::AsyncRunner;
use testcontainers_modules::testcontainers::{ContainerAsync, ImageExt};

use crate::store::{PgConfig, PgStore};

/// The environment variable naming the PostgreSQL server that tests create databases on.
pub const TEST_DATABASE_URL: &str = "ICASH_TEST_DATABASE_URL";

/// The PostgreSQL image the container fallback runs.
const POSTGRES_TAG: &str = "15-alpine";

/// A database of its own for one test, migrated, with a [`PgStore`] on it (`TestDb` derefs to
/// it). Dropping it drops the database (and stops the container, if one was started).
pub struct TestDb {
    store: PgStore,
    name: String,
    server_url: String,
    // Declared last: fields drop in order, and the database must go before its server.
    _container: Option<ContainerAsync<Postgres>>,
}

impl TestDb {
    /// Creates and migrates a fresh database.
    ///
    /// # Panics
    /// When no server is given and no container can be started, with a message saying how to
    /// provide one; and when the server refuses to create the database.
    pub async fn new() -> TestDb {
        let (server_url, container) = match std::env::var(TEST_DATABASE_URL) {
            Ok(url) if !url.trim().is_empty() => (url.trim().to_owned(), None),
            _ => start_container().await,
        };
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "icash_test_{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            uuid::Uuid::new_v4().simple()
        );
        let server = server_options(&server_url);
        let mut admin = PgConnection::connect_with(&server).await.unwrap_or_else(|error| {
            panic!("cannot connect to the test PostgreSQL server at {server_url} ({TEST_DATABASE_URL}): {error}")
        });
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap_or_else(|error| panic!("cannot create the test database {name}: {error}"));
        admin.close().await.ok();
        let store = PgStore::connect_with(server.database(&name), &PgConfig::default())
            .await
            .unwrap_or_else(|error| panic!("cannot migrate the test database {name}: {error:?}"));
        TestDb {
            store,
            name,
            server_url,
            _container: container,
        }
    }

    /// The store on this database.
    pub fn store(&self) -> &PgStore {
        &self.store
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A URL for this database, for a process of the test's own (a server under test).
    pub fn url(&self) -> String {
        let mut url = url::Url::parse(&self.server_url).expect("the server URL was parsed before");
        url.set_path(&self.name);
        url.into()
    }
}

impl Deref for TestDb {
    type Target = PgStore;

    fn deref(&self) -> &PgStore {
        &self.store
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Drop may run inside or outside a runtime, so the database is dropped on a thread of
        // its own with a runtime of its own. FORCE ends the pool's connections.
        let server = server_options(&self.server_url);
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let mut admin = PgConnection::connect_with(&server).await?;
                admin
                    .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await?;
                admin.close().await
            })?;
            Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
        })
        .join();
        if let Ok(Err(error)) = dropped {
            eprintln!(
                "warning: the test database {} was not dropped: {error}",
                self.name
            );
        }
    }
}

/// Options for the server's maintenance database (`postgres` unless the URL names another).
fn server_options(server_url: &str) -> PgConnectOptions {
    let options: PgConnectOptions = server_url.parse().unwrap_or_else(|error| {
        panic!("{TEST_DATABASE_URL} is not a PostgreSQL URL ({server_url}): {error}")
    });
    match options.get_database() {
        Some(_) => options,
        None => options.database("postgres"),
    }
}

async fn start_container() -> (String, Option<ContainerAsync<Postgres>>) {
    let container = Postgres::default().with_tag(POSTGRES_TAG).start().await.unwrap_or_else(|error| {
        panic!(
            "no PostgreSQL for the tests: {TEST_DATABASE_URL} is not set and no container could be started \
             ({error}). Either set {TEST_DATABASE_URL} to a server the tests may create databases on, \
             such as postgres://postgres@127.0.0.1:5432, or start Docker so that testcontainers can run \
             postgres:{POSTGRES_TAG}."
        )
    });
    let host = container
        .get_host()
        .await
        .expect("the container has a host");
    let port = container
        .get_host_port_ipv4(5432)
        .await
        .expect("the container maps port 5432");
    (
        format!("postgres://postgres:postgres@{host}:{port}/postgres"),
        Some(container),
    )
}
