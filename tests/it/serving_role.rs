//! Serving with a role that cannot change the schema: the schema's owner applies the migrations
//! and grants the role with `migrate --grant`; a server with `ICASH_MIGRATIONS=check` then loads
//! the data files, records and reads as that role, which can change no table; and such a server
//! refuses a database that lacks migrations rather than serve from it.

use std::time::{Duration, Instant};

use icash::postgres::testing::TestDb;
use sqlx::{Connection, Executor, PgConnection};

use crate::harness::{Server, Start, server_command};
use crate::support::data_dir;

const ADMIN_KEY: &str = "icash_serving_role_test_admin_key_0123456789";
const PASSWORD: &str = "serving-role-password";

/// A login role of the test's own, dropped at the end (after the databases it was granted on).
struct ServingRole {
    name: String,
    server_url: String,
}

impl ServingRole {
    async fn create(db: &TestDb) -> ServingRole {
        let name = format!("icash_serving_{}", uuid::Uuid::new_v4().simple());
        db.pool()
            .execute(format!("CREATE ROLE {name} LOGIN PASSWORD '{PASSWORD}'").as_str())
            .await
            .expect("the test server lets its superuser create roles");
        // The role outlives the test's database: it is dropped from the maintenance one.
        let url = db.url();
        let server_url = format!(
            "{}/postgres",
            &url[..url.rfind('/').expect("a database path")]
        );
        ServingRole { name, server_url }
    }

    /// `url` with this role as its user.
    fn url(&self, url: &str) -> String {
        let (scheme, rest) = url.split_once("://").expect("a URL");
        let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        format!("{scheme}://{}:{PASSWORD}@{host}", self.name)
    }
}

impl Drop for ServingRole {
    fn drop(&mut self) {
        let (name, url) = (self.name.clone(), self.server_url.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().unwrap();
            runtime.block_on(async move {
                let mut owner = PgConnection::connect(&url).await?;
                owner
                    .execute(format!("DROP ROLE IF EXISTS {name}").as_str())
                    .await?;
                owner.close().await
            })
        })
        .join();
        if let Ok(Err(error)) = dropped {
            eprintln!("warning: the role {} was not dropped: {error}", self.name);
        }
    }
}

#[test]
fn a_role_that_cannot_change_the_schema_serves_once_the_owner_has_migrated() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(TestDb::new());
    let role = runtime.block_on(ServingRole::create(&db));
    // An empty database: everything is the owner's `migrate` to apply.
    runtime.block_on(async {
        db.pool()
            .execute("DROP SCHEMA public CASCADE")
            .await
            .unwrap();
        db.pool().execute("CREATE SCHEMA public").await.unwrap();
    });
    let serving_url = role.url(&db.url());
    let check = [
        ("ICASH_MIGRATIONS", "check"),
        ("ICASH_AUTH", "required"),
        ("ICASH_ADMIN_KEY", ADMIN_KEY),
    ];

    // Before the owner has migrated, a server that may not change the schema refuses to start.
    match Server::spawn_with(Some(&serving_url), &data_dir(), &check).listen() {
        Start::Exited(status, logs) => {
            assert!(!status.success());
            assert!(
                logs.contains("lacks") && logs.contains("migrate"),
                "names the missing migrations and the command: {logs}"
            );
        }
        Start::Listening(server) => panic!("served an unmigrated database: {}", server.stop()),
    }

    let (status, out, err) = server_command(&db.url(), &["migrate", "--grant", &role.name]);
    assert!(status.success(), "{out}{err}");
    assert!(out.contains(&format!("{} may serve", role.name)), "{out}");

    // The role cannot change the schema, nor the record of the migrations, nor grant itself.
    runtime.block_on(async {
        let mut as_role = PgConnection::connect(&serving_url).await.unwrap();
        for statement in [
            "CREATE TABLE intruder (id integer)",
            "ALTER TABLE purchases DISABLE TRIGGER USER",
            "DROP INDEX purchases_branch_customer_idx",
            "DELETE FROM _sqlx_migrations",
            "SELECT icash_grant_serving_role(current_user)",
        ] {
            let error = as_role.execute(statement).await.expect_err(statement);
            let code = error.as_database_error().and_then(|e| e.code());
            assert_eq!(code.as_deref(), Some("42501"), "{statement}: {error}");
        }
        as_role.close().await.unwrap();
    });

    // As that role the server loads the data files (setting keys, indexes and triggers aside
    // through the owner's functions), then records, reads, and manages keys.
    let server = Server::start_with(Some(&serving_url), &data_dir(), &check);
    let admin = server.client_with_key(ADMIN_KEY);
    let loaded = admin
        .request("GET", "/analytics/statistics", None)
        .unwrap()
        .json()["total_purchases"]
        .as_u64()
        .expect("a count");
    assert!(loaded > 0, "the data files were loaded");
    let purchase = r#"{"supermarket_id": 1, "user_id": "new", "items": [{"product_id": 1}]}"#;
    let recorded = admin
        .request("POST", "/cash-register/purchase", Some(purchase))
        .unwrap();
    assert_eq!(recorded.status, 201, "{}", recorded.body);
    let statistics = admin
        .request("GET", "/analytics/statistics", None)
        .unwrap()
        .json();
    assert_eq!(statistics["total_purchases"], loaded + 1);
    let key = r#"{"name": "till-1", "role": "till", "supermarket_id": 1}"#;
    let created = admin.request("POST", "/admin/keys", Some(key)).unwrap();
    assert_eq!(created.status, 201, "{}", created.body);

    // The loaded rows' foreign keys are proven in the background, by the owner's function.
    let started = Instant::now();
    while !server
        .logs()
        .contains("validated the loaded rows' foreign keys")
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the foreign keys were not validated: {}",
            server.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let logs = server.stop();
    assert!(!logs.contains("ERROR"), "{logs}");
    drop(db);
    drop(role);
}
