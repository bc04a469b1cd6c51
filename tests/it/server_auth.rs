//! The example server with API keys required, as a process: the first administrator key
//! printed once, `ICASH_ADMIN_KEY` registered, and the `keys` commands on its database, with a
//! revocation refused by the running server within seconds.

use std::path::Path;
use std::time::{Duration, Instant};

use icash::postgres::testing::TestDb;

use crate::harness::{Server, keys_command};

/// A data directory that is not there: nothing to load, a fast start.
const NO_DATA: &str = "/nonexistent/icash-data";

#[test]
fn the_server_requires_keys_and_prints_its_first_admin_key_once() {
    let server = Server::start_with(None, Path::new(NO_DATA), &[("ICASH_AUTH", "required")]);
    let logs = server.logs();
    let printed: Vec<&str> = logs
        .lines()
        .filter(|line| line.starts_with("icash_"))
        .collect();
    assert_eq!(printed.len(), 1, "the key alone on a line: {logs}");
    let secret = printed[0];
    assert_eq!(
        logs.matches(secret).count(),
        1,
        "the key is printed once and never logged"
    );

    let (status, body) = server.request("GET", "/cash-register/products", None);
    assert_eq!(status, 401, "{body}");
    assert_eq!(server.get("/health")["status"], "healthy", "no key needed");
    let admin = server.client_with_key(secret);
    let reply = admin
        .request("GET", "/cash-register/customers", None)
        .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.body);
    server.stop();
}

#[test]
fn without_keys_the_server_warns_and_allows_everything() {
    let server = Server::start_with(None, Path::new(NO_DATA), &[("ICASH_AUTH", "off")]);
    assert!(
        server.logs().contains("ICASH_AUTH=off"),
        "{}",
        server.logs()
    );
    let (status, _) = server.request("GET", "/cash-register/customers", None);
    assert_eq!(status, 200);
    server.stop();
}

#[test]
fn the_keys_commands_manage_the_keys_a_running_server_checks() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(TestDb::new());
    let url = db.url();

    let (status, stdout, stderr) = keys_command(
        &url,
        &[
            "create", "--role", "till", "--branch", "2", "--name", "till-7",
        ],
    );
    assert!(status.success(), "{stdout}{stderr}");
    let till = stdout.lines().last().unwrap().to_owned();
    assert!(
        till.starts_with("icash_"),
        "the key alone on the last line: {stdout}"
    );
    let (status, _, stderr) = keys_command(
        &url,
        &[
            "create", "--role", "till", "--branch", "2", "--name", "till-7",
        ],
    );
    assert!(!status.success());
    assert!(stderr.contains("already exists"), "{stderr}");

    let admin_key = "automation-admin-key-0123456789abcdef";
    let server = Server::start_with(
        Some(&url),
        Path::new(NO_DATA),
        &[("ICASH_AUTH", "required"), ("ICASH_ADMIN_KEY", admin_key)],
    );
    assert!(
        !server.logs().contains(admin_key),
        "a secret is never logged"
    );
    let reply = server
        .client_with_key(admin_key)
        .request("GET", "/cash-register/customers", None)
        .unwrap();
    assert_eq!(
        reply.status, 200,
        "ICASH_ADMIN_KEY is an admin: {}",
        reply.body
    );
    let admin = server.client_with_key(admin_key);
    let created = admin
        .request(
            "POST",
            "/admin/keys",
            Some(r#"{"name": "analyst-1", "role": "analyst"}"#),
        )
        .unwrap();
    assert_eq!(created.status, 201, "{}", created.body);
    let trail = admin.request("GET", "/admin/audit", None).unwrap().json();
    assert_eq!(trail["entries"][0]["target"], "analyst-1");
    assert_eq!(
        trail["entries"][0]["client"], "127.0.0.1",
        "the audit trail records the client's address"
    );
    let till_client = server.client_with_key(&till);
    let purchase = r#"{"supermarket_id": 2, "user_id": "new", "items": [{"product_id": 1}]}"#;
    let reply = till_client
        .request("GET", "/cash-register/products", None)
        .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.body);

    let (status, stdout, _) = keys_command(&url, &["list"]);
    assert!(status.success());
    assert!(
        stdout
            .lines()
            .any(|line| line.starts_with("till-7\t") && line.ends_with("active")),
        "{stdout}"
    );
    let (status, stdout, stderr) = keys_command(&url, &["revoke", "till-7"]);
    assert!(status.success(), "{stdout}{stderr}");
    let revoked = Instant::now();
    loop {
        let status = till_client
            .request("GET", "/cash-register/products", None)
            .unwrap()
            .status;
        if status == 401 {
            break;
        }
        assert!(
            revoked.elapsed() < Duration::from_secs(7),
            "the server still accepts a key revoked {:?} ago",
            revoked.elapsed()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let reply = till_client
        .request("POST", "/cash-register/purchase", Some(purchase))
        .unwrap();
    assert_eq!(reply.status, 401);
    server.stop();
}
