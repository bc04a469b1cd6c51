//! [`TestDb`]: a fresh, migrated PostgreSQL database for one test, dropped at its end.
//!
//! Where the server comes from:
//! 1. `ICASH_TEST_DATABASE_URL`, a server URL such as `postgres://postgres@127.0.0.1:5432`;
//! 2. otherwise one PostgreSQL container per test process, started with testcontainers when
//!    the first test asks for a database (Docker must be running);
//! 3. with neither, the test fails with a message that says how to provide one. It never
//!    passes without having run.
//!
//! Each test gets a database of its own on that server, copied with `CREATE DATABASE ...
//! TEMPLATE` from a template database that holds the migrated schema, and dropped (`WITH
//! (FORCE)`) when the [`TestDb`] is dropped. The template is migrated once per server: its name
//! is derived from the checksums of the migrations, so a checkout with other migrations makes
//! and uses a template of its own on the same server, and test processes that share one wait
//! for the first to finish it under an advisory lock. Templates stay on the server for later
//! runs, one per set of migrations; one that is no longer wanted is removed with
//! `ALTER DATABASE icash_template_... IS_TEMPLATE false` and `DROP DATABASE`.
//!
//! The container outlives every test of the process, so no test's drop can stop it, and
//! testcontainers removes a container only when its handle is dropped, which never happens to
//! a handle kept for the whole process. Its removal is left to Ryuk, the testcontainers
//! project's resource reaper, which testcontainers-rs does not start by itself: this module
//! starts it beside the database and keeps a TCP connection to it open for as long as the
//! process lives. When the process ends, however it ends, the operating system closes that
//! connection; Ryuk then waits a few seconds for a reconnection, removes the containers carrying
//! this process's session label, and exits, and Docker removes Ryuk's own container. Ryuk needs
//! the Docker socket: `/var/run/docker.sock`, or the path in
//! `TESTCONTAINERS_DOCKER_SOCKET_OVERRIDE`; set `TESTCONTAINERS_RYUK_CONTAINER_PRIVILEGED=true`
//! where the socket is only readable by a privileged container.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::ops::Deref;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, Executor, PgConnection};
use testcontainers_modules::postgres::Postgres;
use testcontainers_modules::testcontainers::core::{IntoContainerPort, Mount};
use testcontainers_modules::testcontainers::runners::AsyncRunner;
use testcontainers_modules::testcontainers::{GenericImage, ImageExt};
use tokio::sync::OnceCell;

use crate::store::{MIGRATOR, PgConfig, PgStore};

/// The environment variable naming the PostgreSQL server that tests create databases on.
pub const TEST_DATABASE_URL: &str = "ICASH_TEST_DATABASE_URL";

/// The PostgreSQL image the container fallback runs.
const POSTGRES_TAG: &str = "15-alpine";

/// The resource reaper that removes the container once the test process has ended.
const RYUK_IMAGE: (&str, &str) = ("testcontainers/ryuk", "0.11.0");

/// The port Ryuk listens on for the filters of the resources it is to remove.
const RYUK_PORT: u16 = 8080;

/// The label that marks the containers of one test process for Ryuk.
const SESSION_LABEL: &str = "icash.test-session";

/// A database of its own for one test, migrated, with a [`PgStore`] on it (`TestDb` derefs to
/// it). Dropping it drops the database; the server stays for the other tests.
pub struct TestDb {
    store: PgStore,
    name: String,
    server_url: &'static str,
}

impl TestDb {
    /// Creates a fresh database from the migrated template.
    ///
    /// # Panics
    /// When no server is given and no container can be started, with a message saying how to
    /// provide one; and when the server refuses to create the database.
    pub async fn new() -> TestDb {
        let server = Server::get().await;
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "icash_test_{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            uuid::Uuid::new_v4().simple()
        );
        let options = server_options(&server.url);
        let mut admin = PgConnection::connect_with(&options)
            .await
            .unwrap_or_else(|error| panic!("cannot connect to {}: {error}", server.url));
        admin
            .execute(format!("CREATE DATABASE {name} TEMPLATE {}", server.template).as_str())
            .await
            .unwrap_or_else(|error| panic!("cannot create the test database {name}: {error}"));
        admin.close().await.ok();
        // The copy is migrated already: connecting finds nothing left to apply.
        let store = PgStore::connect_with(options.database(&name), &PgConfig::default())
            .await
            .unwrap_or_else(|error| panic!("cannot open the test database {name}: {error:?}"));
        TestDb {
            store,
            name,
            server_url: &server.url,
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
        let mut url = url::Url::parse(self.server_url).expect("the server URL was parsed before");
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
        let server = server_options(self.server_url);
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

/// The server every test of the process creates its database on, with its migrated template.
struct Server {
    /// The server's URL, naming its maintenance database or none.
    url: String,
    /// The template each test database is copied from.
    template: String,
    /// The connection whose end tells Ryuk to remove the container (none for a given server).
    _reaper: Option<TcpStream>,
}

impl Server {
    /// The server, found or started, and its template made, by the first test that asks.
    ///
    /// A failure is kept too, so that every test reports it without trying again.
    async fn get() -> &'static Server {
        static SERVER: OnceCell<Result<Server, String>> = OnceCell::const_new();
        let server = SERVER
            .get_or_init(|| async {
                let (url, reaper) = match std::env::var(TEST_DATABASE_URL) {
                    Ok(url) if !url.trim().is_empty() => (url.trim().to_owned(), None),
                    _ => {
                        let (url, reaper) = start_container().await?;
                        (url, Some(reaper))
                    }
                };
                let template = prepare_template(&server_options(&url))
                    .await
                    .map_err(|error| {
                        format!("cannot prepare the template database on {url}: {error}")
                    })?;
                Ok(Server {
                    url,
                    template,
                    _reaper: reaper,
                })
            })
            .await;
        server.as_ref().unwrap_or_else(|error| panic!("{error}"))
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

/// Makes sure the server has a template migrated with this build's migrations, and names it.
async fn prepare_template(
    server: &PgConnectOptions,
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let mut digest = Sha256::new();
    for migration in MIGRATOR.iter() {
        digest.update(migration.version.to_be_bytes());
        digest.update(&*migration.checksum);
    }
    let digest = digest.finalize();
    let template: String = std::iter::once("icash_template_".to_owned())
        .chain(digest[..12].iter().map(|byte| format!("{byte:02x}")))
        .collect();
    let lock = i64::from_be_bytes(digest[..8].try_into().expect("eight bytes"));

    let mut admin = PgConnection::connect_with(server).await?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(lock)
        .execute(&mut admin)
        .await?;
    let made = make_template(&mut admin, server, &template).await;
    // Closing the session releases the lock too; unlocking first lets the next process in
    // without waiting for the close.
    let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(lock)
        .execute(&mut admin)
        .await;
    admin.close().await.ok();
    made?;
    unlocked?;
    Ok(template)
}

/// Creates and migrates `template` unless a finished one exists. The caller holds the lock.
async fn make_template(
    admin: &mut PgConnection,
    server: &PgConnectOptions,
    template: &str,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let finished: Option<bool> =
        sqlx::query_scalar("SELECT datistemplate FROM pg_database WHERE datname = $1")
            .bind(template)
            .fetch_optional(&mut *admin)
            .await?;
    match finished {
        Some(true) => return Ok(()),
        // Left by a process that stopped before finishing it.
        Some(false) => {
            admin
                .execute(format!("DROP DATABASE {template} WITH (FORCE)").as_str())
                .await?;
        }
        None => {}
    }
    admin
        .execute(format!("CREATE DATABASE {template}").as_str())
        .await?;
    let store = PgStore::connect_with(server.clone().database(template), &PgConfig::default())
        .await
        .map_err(|error| format!("{error:?}"))?;
    // A database with a session open cannot be copied.
    store.pool().close().await;
    drop(store);
    // Marking it a template is the last step, so a template marked so is a finished one;
    // refusing connections keeps stray sessions from blocking the copies.
    admin
        .execute(
            format!("ALTER DATABASE {template} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false")
                .as_str(),
        )
        .await?;
    Ok(())
}

/// Starts Ryuk, then a PostgreSQL container it will remove when this process has ended.
/// Returns the server's URL and the connection to Ryuk that must stay open until then.
async fn start_container() -> Result<(String, TcpStream), String> {
    let no_container = |error: &dyn std::fmt::Display| {
        format!(
            "no PostgreSQL for the tests: {TEST_DATABASE_URL} is not set and no container could be \
             started ({error}). Either set {TEST_DATABASE_URL} to a server the tests may create \
             databases on, such as postgres://postgres@127.0.0.1:5432, or start Docker so that \
             testcontainers can run postgres:{POSTGRES_TAG} and {}:{}.",
            RYUK_IMAGE.0, RYUK_IMAGE.1
        )
    };
    let session = uuid::Uuid::new_v4().to_string();
    let reaper = start_reaper(&session)
        .await
        .map_err(|error| no_container(&error))?;
    let container = Postgres::default()
        .with_tag(POSTGRES_TAG)
        .with_label(SESSION_LABEL, &session)
        .start()
        .await
        .map_err(|error| no_container(&error))?;
    let host = container
        .get_host()
        .await
        .map_err(|error| no_container(&error))?;
    let port = container
        .get_host_port_ipv4(5432)
        .await
        .map_err(|error| no_container(&error))?;
    // Dropping the handle would remove the container, from the runtime of whichever test
    // started it: it is never dropped, and Ryuk removes the container instead.
    std::mem::forget(container);
    Ok((
        format!("postgres://postgres:postgres@{host}:{port}/postgres"),
        reaper,
    ))
}

/// Starts Ryuk and registers the session's label with it: the returned connection is what
/// keeps the labelled containers alive.
async fn start_reaper(
    session: &str,
) -> Result<TcpStream, Box<dyn std::error::Error + Send + Sync>> {
    let socket = std::env::var("TESTCONTAINERS_DOCKER_SOCKET_OVERRIDE")
        .unwrap_or_else(|_| "/var/run/docker.sock".to_owned());
    let privileged = std::env::var("TESTCONTAINERS_RYUK_CONTAINER_PRIVILEGED")
        .is_ok_and(|value| value.trim().eq_ignore_ascii_case("true"));
    let ryuk = GenericImage::new(RYUK_IMAGE.0, RYUK_IMAGE.1)
        .with_exposed_port(RYUK_PORT.tcp())
        .with_mount(Mount::bind_mount(socket, "/var/run/docker.sock"))
        .with_privileged(privileged)
        // Ryuk exits once it has removed the session's containers; Docker then removes it.
        .with_host_config_modifier(|config| config.auto_remove = Some(true))
        .start()
        .await?;
    let host = ryuk.get_host().await?.to_string();
    let port = ryuk.get_host_port_ipv4(RYUK_PORT).await?;
    // Ryuk's container removes itself; its handle's drop would only race with that.
    std::mem::forget(ryuk);
    let filter = format!("label={SESSION_LABEL}={session}\n");
    let registered = tokio::task::spawn_blocking(move || register(&host, port, &filter)).await?;
    Ok(registered?)
}

/// Sends Ryuk the filter of the session's containers and waits for its acknowledgement,
/// retrying while Ryuk is still starting.
fn register(host: &str, port: u16, filter: &str) -> std::io::Result<TcpStream> {
    let attempt = || -> std::io::Result<TcpStream> {
        let mut stream = TcpStream::connect((host, port))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.write_all(filter.as_bytes())?;
        let mut reply = [0; 4];
        stream.read_exact(&mut reply)?;
        if &reply != b"ACK\n" {
            return Err(std::io::Error::other(format!(
                "Ryuk answered {:?} instead of ACK",
                String::from_utf8_lossy(&reply)
            )));
        }
        stream.set_read_timeout(None)?;
        Ok(stream)
    };
    let mut tries = 0;
    loop {
        match attempt() {
            Ok(stream) => return Ok(stream),
            Err(error) if tries >= 50 => return Err(error),
            Err(_) => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
}
