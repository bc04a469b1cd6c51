//! The administration endpoints over HTTP, on both stores: keys created (the secret shown once),
//! listed and revoked by an admin key only, each change in the audit trail with who made it
//! and from where, read a page at a time.

use std::net::SocketAddr;

use icash::core::{ApiKeySecret, KeyName, NewKey, Origin, Role, Store};
use icash::http::{ApiConfig, SharedStore};
use serde_json::{Value, json};

use crate::api::{Answer, Api, api, api_with, request_with_key, send};
use crate::support::on_both_stores;

on_both_stores!(
    an_admin_creates_lists_and_revokes_keys_and_the_trail_tells,
    only_an_admin_key_manages_keys,
    the_audit_trail_pages,
);

/// Creates the administrator key `root`, returning its secret.
pub(crate) async fn admin(store: &dyn Store) -> ApiKeySecret {
    let key = NewKey::new(KeyName::new("root").unwrap(), Role::Admin, None).unwrap();
    store.create_key(&key, &Origin::system()).await.unwrap().1
}

const CLIENT: &str = "192.0.2.7:40000";

/// Sends `method` `path` with `key` and a JSON `body`, if any, from a fixed client address.
pub(crate) async fn call(
    api: &Api,
    method: &str,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> Answer {
    let request = request_with_key(method, path, Some(key))
        .remote_addr(CLIENT.parse::<SocketAddr>().unwrap());
    let request = match body {
        Some(body) => request
            .header("content-type", "application/json")
            .body(body.to_string()),
        None => request,
    };
    send(api, request).await
}

async fn an_admin_creates_lists_and_revokes_keys_and_the_trail_tells(store: SharedStore) {
    let root = admin(store.as_ref()).await;
    let api = api_with(store.clone(), ApiConfig::required());
    let created = call(
        &api,
        "POST",
        "/admin/keys",
        root.expose(),
        Some(json!({"name": "branch-2-till-7", "role": "till", "supermarket_id": 2})),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let body = created.json();
    let secret = body["api_key"].as_str().unwrap().to_owned();
    assert_eq!(body["key"]["name"], "branch-2-till-7");
    assert_eq!(body["key"]["role"], "till");
    assert_eq!(body["key"]["supermarket_id"], 2);
    assert!(body["key"]["revoked_at"].is_null());

    let till = send(
        &api,
        request_with_key("GET", "/cash-register/products", Some(&secret)),
    )
    .await;
    assert_eq!(till.status, 200, "the new key works at once");

    let again = call(
        &api,
        "POST",
        "/admin/keys",
        root.expose(),
        Some(json!({"name": "branch-2-till-7", "role": "analyst"})),
    )
    .await;
    assert_eq!(again.status, 409, "{}", again.text());
    let bad = call(
        &api,
        "POST",
        "/admin/keys",
        root.expose(),
        Some(json!({"name": "t", "role": "till"})),
    )
    .await;
    assert_eq!(bad.status, 400);
    assert!(bad.error().contains("needs a branch"), "{}", bad.text());

    let listed = call(&api, "GET", "/admin/keys", root.expose(), None).await;
    assert_eq!(listed.status, 200);
    let names: Vec<String> = listed
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["root", "branch-2-till-7"]);
    assert!(!listed.text().contains(&secret), "never a secret");

    let revoked = call(
        &api,
        "DELETE",
        "/admin/keys/branch-2-till-7",
        root.expose(),
        None,
    )
    .await;
    assert_eq!(revoked.status, 200, "{}", revoked.text());
    assert!(revoked.json()["revoked_at"].is_string());
    let itself = call(&api, "DELETE", "/admin/keys/root", root.expose(), None).await;
    assert_eq!(itself.status, 409, "a key may not revoke itself");
    let unknown = call(&api, "DELETE", "/admin/keys/nobody", root.expose(), None).await;
    assert_eq!(unknown.status, 404);

    let trail = call(&api, "GET", "/admin/audit", root.expose(), None).await;
    assert_eq!(trail.status, 200);
    let entries = trail.json()["entries"].clone();
    let entries = entries.as_array().unwrap();
    let seen: Vec<(&str, &str, &Value, &Value)> = entries
        .iter()
        .map(|entry| {
            (
                entry["kind"].as_str().unwrap(),
                entry["target"].as_str().unwrap(),
                &entry["actor"],
                &entry["client"],
            )
        })
        .collect();
    let (root_name, client) = (json!("root"), json!("192.0.2.7"));
    assert_eq!(
        seen,
        [
            ("key.revoked", "branch-2-till-7", &root_name, &client),
            ("key.created", "branch-2-till-7", &root_name, &client),
            ("key.created", "root", &Value::Null, &Value::Null),
        ],
        "newest first, with who and from where"
    );
}

async fn only_an_admin_key_manages_keys(store: SharedStore) {
    let root = admin(store.as_ref()).await;
    let manager = NewKey::new(KeyName::new("head-office").unwrap(), Role::Manager, None).unwrap();
    let manager = store
        .create_key(&manager, &Origin::system())
        .await
        .unwrap()
        .1;
    let required = api_with(store.clone(), ApiConfig::required());
    let body = json!({"name": "x", "role": "analyst"});
    for (method, path) in [
        ("POST", "/admin/keys"),
        ("GET", "/admin/keys"),
        ("DELETE", "/admin/keys/root"),
        ("GET", "/admin/audit"),
    ] {
        let body = (method == "POST").then(|| body.clone());
        let refused = call(&required, method, path, manager.expose(), body.clone()).await;
        assert_eq!(refused.status, 403, "{method} {path}: {}", refused.text());
        assert!(
            refused
                .error()
                .starts_with("a manager of every branch may not")
        );
        let anonymous = send(&required, request_with_key(method, path, None)).await;
        assert_eq!(anonymous.status, 401, "{method} {path}");
        // With authentication off, keys made by anyone would be vouched for by no one.
        let open = call(&api(store.clone()), method, path, root.expose(), body).await;
        assert_eq!(open.status, 403, "{method} {path}");
        assert!(open.error().contains("ICASH_AUTH=off"));
    }
}

async fn the_audit_trail_pages(store: SharedStore) {
    let root = admin(store.as_ref()).await;
    let api = api_with(store.clone(), ApiConfig::required());
    for n in 0..4 {
        let created = call(
            &api,
            "POST",
            "/admin/keys",
            root.expose(),
            Some(json!({"name": format!("analyst-{n}"), "role": "analyst"})),
        )
        .await;
        assert_eq!(created.status, 201);
    }
    let mut targets = Vec::new();
    let mut path = "/admin/audit?limit=2".to_owned();
    loop {
        let page = call(&api, "GET", &path, root.expose(), None).await;
        assert_eq!(page.status, 200, "{}", page.text());
        let body = page.json();
        for entry in body["entries"].as_array().unwrap() {
            targets.push(entry["target"].as_str().unwrap().to_owned());
        }
        match body["next_after"].as_i64() {
            Some(after) => path = format!("/admin/audit?limit=2&after={after}"),
            None => break,
        }
    }
    assert_eq!(
        targets,
        ["analyst-3", "analyst-2", "analyst-1", "analyst-0", "root"]
    );
    let bad = call(&api, "GET", "/admin/audit?limit=0", root.expose(), None).await;
    assert_eq!(bad.status, 400);
}
