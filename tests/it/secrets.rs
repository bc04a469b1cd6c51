//! No secret in a log or a `Debug` output: the database password, given in `DATABASE_URL`, shows
//! in neither the store's `Debug`, the configuration's (see `icash::server`'s unit tests), nor
//! the server's logs, from a start to a stop or a failed start.

use icash::postgres::testing::TestDb;
use icash::postgres::{PgConfig, PgStore};

use crate::harness::{Server, Start};
use crate::support::data_dir;

const PASSWORD: &str = "s3cret-pw";

/// Neither the store's nor the configuration's `Debug` output shows the database password.
#[tokio::test]
async fn debug_outputs_hide_the_database_password() {
    let db = TestDb::new().await;
    let url = with_password(&db.url());
    let store = PgStore::connect_with(url.parse().unwrap(), &PgConfig::default())
        .await
        .expect("trust authentication accepts any password");
    let debug = format!("{store:?}");
    assert!(!debug.contains(PASSWORD), "{debug}");
}

/// `url` with [`PASSWORD`] in its user information (trust authentication accepts any).
fn with_password(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (user, host) = rest.split_once('@').unwrap();
    format!("{scheme}://{user}:{PASSWORD}@{host}")
}

/// The server's logs, from its start with a password in `DATABASE_URL` to its stop, and those of
/// a start that fails on an unreachable database, never show the password.
#[test]
fn the_servers_logs_never_show_the_database_password() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(TestDb::new());
    let server = Server::start(Some(&with_password(&db.url())), &data_dir());
    assert_eq!(server.get("/health")["status"], "healthy");
    let logs = server.stop();
    assert!(logs.contains("connected to PostgreSQL"), "{logs}");
    assert!(!logs.contains(PASSWORD), "{logs}");

    let unreachable = format!("postgres://postgres:{PASSWORD}@127.0.0.1:9/icash");
    match Server::spawn(Some(&unreachable), &data_dir()).listen() {
        Start::Exited(status, logs) => {
            assert!(!status.success());
            assert!(logs.contains("cannot use the database"), "{logs}");
            assert!(!logs.contains(PASSWORD), "{logs}");
        }
        Start::Listening(_) => panic!("the server started on an unreachable database"),
    }
}
