//! Authentication and authorization over HTTP, on both stores: who may call each endpoint, what
//! a refusal says, the key a purchase names, idempotency keys scoped to their sender, and a
//! revocation seen by every server on the same database.

use std::time::{Duration, Instant};

use icash::core::{
    ApiKeySecret, BranchId, CustomerRef, KeyName, NewKey, NewPurchase, Origin, ProductId, Role,
    Store,
};
use icash::http::metrics::Scrape;
use icash::http::{ApiConfig, SharedStore, StoreKeys};
use icash::postgres::PgStore;
use icash::postgres::testing::TestDb;

use crate::api::{Answer, Api, api, api_with, request_with_key, send};
use crate::http::put_catalog;
use crate::support::on_both_stores;

on_both_stores!(
    every_endpoint_answers_each_key_as_its_role_allows,
    a_purchase_names_its_key_and_one_for_another_branch_stores_nothing,
    two_tills_idempotency_keys_are_independent,
    without_authentication_nothing_is_asked_and_nothing_named,
    whoami_names_the_key_and_what_its_role_allows,
);

fn branch(n: i32) -> BranchId {
    BranchId::new(n).unwrap()
}

/// Creates the key `name` of `role` over `branch_id`, returning its secret.
async fn key(store: &dyn Store, name: &str, role: Role, branch_id: Option<i32>) -> ApiKeySecret {
    let new = NewKey::new(KeyName::new(name).unwrap(), role, branch_id.map(branch)).unwrap();
    store.create_key(&new, &Origin::system()).await.unwrap().1
}

/// The keys of the matrix, in its columns' order after "no key".
struct Keyring {
    till_1: ApiKeySecret,
    till_2: ApiKeySecret,
    manager_1: ApiKeySecret,
    analyst: ApiKeySecret,
    admin: ApiKeySecret,
    revoked: ApiKeySecret,
}

async fn keyring(store: &dyn Store) -> Keyring {
    let keys = Keyring {
        till_1: key(store, "till-1", Role::Till, Some(1)).await,
        till_2: key(store, "till-2", Role::Till, Some(2)).await,
        manager_1: key(store, "manager-1", Role::Manager, Some(1)).await,
        analyst: key(store, "analyst", Role::Analyst, None).await,
        admin: key(store, "admin", Role::Admin, None).await,
        revoked: key(store, "revoked-till-1", Role::Till, Some(1)).await,
    };
    store
        .revoke_key(&KeyName::new("revoked-till-1").unwrap(), &Origin::system())
        .await
        .unwrap();
    keys
}

const BRANCH_SETTINGS: &str =
    r#"{"name": "SMKT001", "time_zone": "UTC", "day_starts_at": "00:00"}"#;
const PURCHASE_1: &str = r#"{"supermarket_id": 1, "user_id": "new", "items": [{"product_id": 1}]}"#;

/// The body `method` and `path` take in the matrix: a purchase at branch 1 unless the path asks
/// for another (a product with a name of its own, a price, a batch of one purchase).
fn body_for(method: &str, path: &str) -> Option<String> {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    match (method, path) {
        ("POST", "/cash-register/products") => {
            Some(format!(r#"{{"name": "tea {n}", "price": 1.25}}"#))
        }
        ("PUT", path) if path.starts_with("/branches/") => Some(BRANCH_SETTINGS.to_owned()),
        ("PUT", _) => Some(r#"{"price": 1.75}"#.to_owned()),
        ("POST", "/cash-register/purchases/batch") => Some(format!(
            r#"{{"purchases": [{{"client_id": "{}", "purchased_at": "{}", "supermarket_id": 1, "user_id": "new", "items": [{{"product_id": 1}}]}}]}}"#,
            uuid::Uuid::new_v4(),
            chrono::Utc::now().to_rfc3339()
        )),
        ("POST", path) if path.ends_with("/retire") => None,
        ("POST", _) => Some(PURCHASE_1.to_owned()),
        _ => None,
    }
}

async fn call(api: &Api, method: &str, path: &str, key: Option<&ApiKeySecret>) -> Answer {
    let request = request_with_key(method, path, key.map(ApiKeySecret::expose));
    let request = match body_for(method, path) {
        Some(body) => request
            .header("content-type", "application/json")
            .body(body),
        None => request,
    };
    send(api, request).await
}

/// Checks what a refusal carries: the error envelope, and for a 401 the bearer challenge.
fn check_refusal(answer: &Answer, what: &str) {
    match answer.status {
        401 => {
            let challenge = answer.header("www-authenticate").unwrap_or_default();
            assert!(challenge.starts_with("Bearer"), "{what}: {challenge:?}");
            assert!(answer.error().contains("API key"), "{what}");
        }
        403 => assert!(answer.error().contains(" may not "), "{what}"),
        _ => {}
    }
}

async fn every_endpoint_answers_each_key_as_its_role_allows(store: SharedStore) {
    put_catalog(store.as_ref()).await;
    let keys = keyring(store.as_ref()).await;
    let receipt = store
        .record_purchase(
            NewPurchase::new(
                branch(1),
                CustomerRef::New,
                vec![ProductId::new(1).unwrap()],
                chrono::Utc::now(),
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .id();
    let receipt_path = format!("/cash-register/purchases/{receipt}");
    let api = api_with(
        store.clone(),
        ApiConfig {
            metrics: Some(Scrape::new(|| "icash_up 1\n".to_owned())),
            ..ApiConfig::required()
        },
    );
    let columns: [Option<&ApiKeySecret>; 7] = [
        None,
        Some(&keys.till_1),
        Some(&keys.till_2),
        Some(&keys.manager_1),
        Some(&keys.analyst),
        Some(&keys.admin),
        Some(&keys.revoked),
    ];
    const OPEN: [u16; 7] = [200; 7];
    const CATALOG: [u16; 7] = [401, 200, 200, 200, 200, 200, 401];
    const BRANCH_1: [u16; 7] = [401, 403, 403, 200, 200, 200, 401];
    const CHAIN: [u16; 7] = [401, 403, 403, 403, 200, 200, 401];
    const ADMIN: [u16; 7] = [401, 403, 403, 403, 403, 200, 401];
    let mut matrix: Vec<(&str, String, [u16; 7])> = vec![
        ("GET", "/".into(), OPEN),
        ("GET", "/health".into(), OPEN),
        ("GET", "/livez".into(), OPEN),
        ("GET", "/readyz".into(), OPEN),
        ("GET", "/openapi.json".into(), OPEN),
        ("GET", "/cash-register/products".into(), CATALOG),
        (
            "POST",
            "/cash-register/purchase".into(),
            [401, 201, 403, 201, 403, 201, 401],
        ),
        ("GET", receipt_path, [401, 200, 403, 200, 403, 200, 401]),
        ("GET", "/cash-register/customers".into(), CHAIN),
        // The catalog's prices are the chain's: a manager of one branch may not change them.
        (
            "POST",
            "/cash-register/products".into(),
            [401, 403, 403, 403, 403, 201, 401],
        ),
        (
            "PUT",
            "/cash-register/products/1/price".into(),
            [401, 403, 403, 403, 403, 200, 401],
        ),
        ("GET", "/cash-register/products/1/prices".into(), CATALOG),
        (
            "POST",
            "/cash-register/products/5/retire".into(),
            [401, 403, 403, 403, 403, 200, 401],
        ),
        // A batch answers each purchase in its place (`batch::*` checks the 403s inside).
        (
            "POST",
            "/cash-register/purchases/batch".into(),
            [401, 200, 200, 200, 200, 200, 401],
        ),
        ("GET", "/admin/keys".into(), ADMIN),
        ("GET", "/admin/audit".into(), ADMIN),
        ("GET", "/metrics".into(), ADMIN),
        ("GET", "/branches".into(), CATALOG),
        ("PUT", "/branches/1".into(), ADMIN),
        // Without a key it says only that keys are required.
        ("GET", "/whoami".into(), [200, 200, 200, 200, 200, 200, 401]),
    ];
    for path in [
        "/dashboard",
        "/analytics/unique-customers",
        "/analytics/loyal-customers",
        "/analytics/top-products",
        "/analytics/statistics",
    ] {
        matrix.push(("GET", format!("{path}?supermarket_id=1"), BRANCH_1));
        matrix.push(("GET", path.to_owned(), CHAIN));
    }
    let series = "/analytics/sales?granularity=day&from_date=2025-05-01&to_date=2025-05-31";
    matrix.push(("GET", format!("{series}&supermarket_id=1"), BRANCH_1));
    matrix.push(("GET", series.to_owned(), CHAIN));
    let report = "/analytics/daily-report?date=2025-05-01&supermarket_id=";
    matrix.push(("GET", format!("{report}1"), BRANCH_1));
    matrix.push((
        "GET",
        format!("{report}2"),
        [401, 403, 403, 403, 200, 200, 401],
    ));
    let names = [
        "no key",
        "till of 1",
        "till of 2",
        "manager of 1",
        "analyst",
        "admin",
        "revoked",
    ];
    let mut wrong = Vec::new();
    // Refunds and voids: each cell on a purchase of its own, as an allowed one changes it.
    let sale = |branch_id: i32| {
        let store = store.clone();
        async move {
            let purchase = NewPurchase::new(
                branch(branch_id),
                CustomerRef::New,
                vec![ProductId::new(1).unwrap()],
                chrono::Utc::now(),
            )
            .unwrap();
            store.record_purchase(purchase).await.unwrap().id()
        }
    };
    let changes: [(&str, i32, &str, [u16; 7]); 4] = [
        ("refunds", 1, "{}", [401, 403, 403, 201, 403, 201, 401]),
        ("refunds", 2, "{}", [401, 403, 403, 403, 403, 201, 401]),
        (
            "void",
            1,
            r#"{"reason": "mistake"}"#,
            [401, 403, 403, 200, 403, 200, 401],
        ),
        (
            "void",
            2,
            r#"{"reason": "mistake"}"#,
            [401, 403, 403, 403, 403, 200, 401],
        ),
    ];
    for (action, branch_id, body, expected) in changes {
        for ((key, name), expected) in columns.iter().zip(names).zip(expected) {
            let path = format!(
                "/cash-register/purchases/{}/{action}",
                sale(branch_id).await
            );
            let request = request_with_key("POST", &path, key.map(ApiKeySecret::expose))
                .header("content-type", "application/json")
                .body(body);
            let answer = send(&api, request).await;
            let what = format!("POST {path} (branch {branch_id}) with {name}");
            if answer.status != expected {
                wrong.push(format!("{what}: {} instead of {expected}", answer.status));
            }
            check_refusal(&answer, &what);
        }
    }
    for (method, path, expected) in &matrix {
        for ((key, name), expected) in columns.iter().zip(names).zip(expected) {
            let answer = call(&api, method, path, *key).await;
            let what = format!("{method} {path} with {name}");
            if answer.status != *expected {
                wrong.push(format!("{what}: {} instead of {expected}", answer.status));
            }
            check_refusal(&answer, &what);
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

async fn a_purchase_names_its_key_and_one_for_another_branch_stores_nothing(store: SharedStore) {
    put_catalog(store.as_ref()).await;
    let till = key(store.as_ref(), "branch-2-till-7", Role::Till, Some(2)).await;
    let api = api_with(store.clone(), ApiConfig::required());
    let purchase = |branch: i32| {
        request_with_key("POST", "/cash-register/purchase", Some(till.expose()))
            .header("content-type", "application/json")
            .body(format!(
                r#"{{"supermarket_id": {branch}, "user_id": "new", "items": [{{"product_id": 1}}]}}"#
            ))
    };
    let refused = send(&api, purchase(3)).await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        refused.error(),
        "a till of branch 2 may not record purchases for branch 3"
    );
    assert!(!store.has_purchases().await.unwrap(), "nothing is stored");

    let recorded = send(&api, purchase(2)).await;
    assert_eq!(recorded.status, 201, "{}", recorded.text());
    assert_eq!(recorded.json()["recorded_by"], "branch-2-till-7");
    let id = recorded.json()["purchase_id"].as_i64().unwrap();
    let path = format!("/cash-register/purchases/{id}");
    let receipt = send(&api, request_with_key("GET", &path, Some(till.expose()))).await;
    assert_eq!(receipt.status, 200);
    assert_eq!(receipt.json()["recorded_by"], "branch-2-till-7");
}

async fn two_tills_idempotency_keys_are_independent(store: SharedStore) {
    put_catalog(store.as_ref()).await;
    let till_1 = key(store.as_ref(), "till-1", Role::Till, Some(1)).await;
    let till_2 = key(store.as_ref(), "till-2", Role::Till, Some(2)).await;
    let api = api_with(store.clone(), ApiConfig::required());
    let purchase = |key: &ApiKeySecret, branch: i32| {
        request_with_key("POST", "/cash-register/purchase", Some(key.expose()))
            .header("content-type", "application/json")
            .header("idempotency-key", "sale-0001")
            .body(format!(
                r#"{{"supermarket_id": {branch}, "user_id": "new", "items": [{{"product_id": 2}}]}}"#
            ))
    };
    let first = send(&api, purchase(&till_1, 1)).await;
    let second = send(&api, purchase(&till_2, 2)).await;
    assert_eq!(
        (first.status, second.status),
        (201, 201),
        "{}",
        second.text()
    );
    assert_eq!(second.header("idempotent-replayed"), None);
    assert_ne!(first.json()["purchase_id"], second.json()["purchase_id"]);
    let retry = send(&api, purchase(&till_1, 1)).await;
    assert_eq!(retry.status, 201);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(retry.json()["purchase_id"], first.json()["purchase_id"]);
}

async fn without_authentication_nothing_is_asked_and_nothing_named(store: SharedStore) {
    put_catalog(store.as_ref()).await;
    let api = api(store.clone());
    let recorded = send(
        &api,
        request_with_key("POST", "/cash-register/purchase", Some("not-a-key"))
            .header("content-type", "application/json")
            .body(PURCHASE_1),
    )
    .await;
    assert_eq!(recorded.status, 201, "{}", recorded.text());
    assert!(recorded.json()["recorded_by"].is_null());
    for path in ["/cash-register/customers", "/analytics/statistics"] {
        let answer = send(&api, request_with_key("GET", path, None)).await;
        assert_eq!(answer.status, 200, "{path}");
    }
}

/// `/whoami` answers each key with its name, role and branch, and what it may do, as the role
/// matrix has it; a request without a key, only that keys are required; without
/// authentication, everything but the keys.
async fn whoami_names_the_key_and_what_its_role_allows(store: SharedStore) {
    let keys = keyring(store.as_ref()).await;
    let api = api_with(store.clone(), ApiConfig::required());
    let whoami = |key: &ApiKeySecret| {
        let request = request_with_key("GET", "/whoami", Some(key.expose()));
        let api = &api;
        async move {
            let answer = send(api, request).await;
            assert_eq!(answer.status, 200, "{}", answer.text());
            answer.json()
        }
    };
    let till = whoami(&keys.till_1).await;
    assert_eq!(
        till,
        serde_json::json!({"auth": "required", "name": "till-1", "role": "till", "supermarket_id": 1,
            "may": {"record_purchases": true, "read_receipts": true, "refund": false, "void": false,
                "change_prices": false, "read_analytics": false, "read_chain_analytics": false,
                "list_customers": false, "manage_keys": false}})
    );
    let manager = whoami(&keys.manager_1).await;
    assert_eq!(manager["role"], "manager");
    assert_eq!(
        manager["may"],
        serde_json::json!({"record_purchases": true, "read_receipts": true, "refund": true,
            "void": true, "change_prices": false, "read_analytics": true,
            "read_chain_analytics": false, "list_customers": false, "manage_keys": false})
    );
    let analyst = whoami(&keys.analyst).await;
    assert_eq!(analyst["supermarket_id"], serde_json::Value::Null);
    assert_eq!(
        analyst["may"],
        serde_json::json!({"record_purchases": false, "read_receipts": false, "refund": false,
            "void": false, "change_prices": false, "read_analytics": true,
            "read_chain_analytics": true, "list_customers": true, "manage_keys": false})
    );
    let all = |answer: &serde_json::Value, allowed: bool| {
        answer["may"]
            .as_object()
            .unwrap()
            .values()
            .all(|may| may == allowed)
    };
    let admin = whoami(&keys.admin).await;
    assert!(all(&admin, true), "{admin}");

    let anonymous = send(&api, request_with_key("GET", "/whoami", None)).await;
    assert_eq!(anonymous.status, 200);
    let anonymous = anonymous.json();
    assert_eq!(anonymous["auth"], "required");
    assert_eq!(anonymous["name"], serde_json::Value::Null);
    assert!(all(&anonymous, false), "{anonymous}");

    let open = send(
        &crate::api::api(store),
        request_with_key("GET", "/whoami", None),
    )
    .await;
    assert_eq!(open.status, 200);
    let open = open.json();
    assert_eq!(open["auth"], "off");
    assert_eq!(open["role"], serde_json::Value::Null);
    assert_eq!(open["may"]["refund"], true);
    assert_eq!(
        open["may"]["manage_keys"], false,
        "an open server manages no keys"
    );
}

/// Two servers on one database: a key revoked through one is refused by the other within the
/// key cache's time to live.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_is_refused_by_every_server_within_the_cache_ttl() {
    let db = TestDb::new().await;
    let one: SharedStore = std::sync::Arc::new(db.store().clone());
    let other: SharedStore = std::sync::Arc::new(PgStore::connect(&db.url()).await.unwrap());
    let ttl = Duration::from_millis(500);
    let config = |store: &SharedStore| ApiConfig {
        authenticator: Some(std::sync::Arc::new(StoreKeys::new(store.clone(), ttl))),
        ..ApiConfig::required()
    };
    let (api_one, api_other) = (
        api_with(one.clone(), config(&one)),
        api_with(other.clone(), config(&other)),
    );
    let secret = key(one.as_ref(), "till-1", Role::Till, Some(1)).await;
    let products = || request_with_key("GET", "/cash-register/products", Some(secret.expose()));
    assert_eq!(send(&api_one, products()).await.status, 200);
    assert_eq!(send(&api_other, products()).await.status, 200, "now cached");

    one.revoke_key(&KeyName::new("till-1").unwrap(), &Origin::system())
        .await
        .unwrap();
    let revoked = Instant::now();
    loop {
        let status = send(&api_other, products()).await.status;
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        assert!(
            revoked.elapsed() < ttl + Duration::from_millis(500),
            "the other server still accepts the key after its cache's time to live"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(icash::http::auth::DEFAULT_KEY_CACHE_TTL <= Duration::from_secs(5));
}
