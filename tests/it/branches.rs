//! The branches over HTTP, on both stores: listed with their zones and business days, changed
//! by admin keys with an audit entry, and every bad setting refused with a sentence that names
//! it, changing nothing.

use std::net::SocketAddr;

use icash::core::{KeyName, NewKey, Origin, Role, Store};
use icash::http::{ApiConfig, SharedStore};
use serde_json::{Value, json};

use crate::api::{Answer, Api, api, api_with, request_with_key, send};
use crate::support::on_both_stores;

on_both_stores!(
    an_admin_sets_a_branchs_zone_and_day_and_the_trail_tells,
    bad_branch_settings_are_refused_with_a_sentence_and_change_nothing,
    with_authentication_off_branches_are_open,
);

async fn put(api: &Api, path: &str, key: Option<&str>, body: Value) -> Answer {
    let request = request_with_key("PUT", path, key)
        .remote_addr("192.0.2.7:40000".parse::<SocketAddr>().unwrap())
        .header("content-type", "application/json")
        .body(body.to_string());
    send(api, request).await
}

async fn admin_key(store: &dyn Store) -> String {
    let key = NewKey::new(KeyName::new("root").unwrap(), Role::Admin, None).unwrap();
    let secret = store.create_key(&key, &Origin::system()).await.unwrap().1;
    secret.expose().to_owned()
}

async fn an_admin_sets_a_branchs_zone_and_day_and_the_trail_tells(store: SharedStore) {
    let root = admin_key(store.as_ref()).await;
    let api = api_with(store.clone(), ApiConfig::required());
    let listed = send(&api, request_with_key("GET", "/branches", Some(&root))).await;
    assert_eq!(listed.status, 200);
    assert_eq!(
        listed.json()[0],
        json!({"id": 1, "name": "SMKT001", "time_zone": "UTC", "day_starts_at": "00:00"})
    );
    assert_eq!(listed.json().as_array().unwrap().len(), 3);

    let settings =
        json!({"name": "Tel Aviv", "time_zone": "Asia/Jerusalem", "day_starts_at": "04:00"});
    let changed = put(&api, "/branches/2", Some(&root), settings.clone()).await;
    assert_eq!(changed.status, 200, "{}", changed.text());
    let mut expected = settings;
    expected["id"] = json!(2);
    assert_eq!(changed.json(), expected);
    let listed = send(&api, request_with_key("GET", "/branches", Some(&root))).await;
    assert_eq!(listed.json()[1], expected);

    let trail = send(&api, request_with_key("GET", "/admin/audit", Some(&root))).await;
    let entry = &trail.json()["entries"][0];
    assert_eq!(entry["kind"], "branch.changed");
    assert_eq!(entry["target"], "branch 2");
    assert_eq!(entry["actor"], "root");
    assert_eq!(entry["client"], "192.0.2.7");
    assert!(
        entry["details"]
            .as_str()
            .unwrap()
            .contains("Asia/Jerusalem"),
        "{entry}"
    );
}

async fn bad_branch_settings_are_refused_with_a_sentence_and_change_nothing(store: SharedStore) {
    let root = admin_key(store.as_ref()).await;
    let api = api_with(store.clone(), ApiConfig::required());
    let good =
        json!({"name": "Kathmandu", "time_zone": "Asia/Kathmandu", "day_starts_at": "00:00"});
    let with = |field: &str, value: Value| {
        let mut body = good.clone();
        body[field] = value;
        body
    };
    let cases = [
        (
            "/branches/2",
            with("time_zone", json!("Mars/Olympus")),
            400,
            "time_zone \"Mars/Olympus\" is not valid: expected an IANA time zone name",
        ),
        (
            "/branches/2",
            with("time_zone", json!("asia/kathmandu")),
            400,
            "time_zone",
        ),
        (
            "/branches/2",
            with("day_starts_at", json!("24:00")),
            400,
            "day_starts_at \"24:00\" is not valid: expected a time of day written HH:MM",
        ),
        (
            "/branches/2",
            with("day_starts_at", json!("4:00")),
            400,
            "day_starts_at",
        ),
        (
            "/branches/2",
            with("name", json!("   ")),
            400,
            "field `name` is not valid",
        ),
        (
            "/branches/2",
            with("name", json!("a\u{0}b")),
            400,
            "field `name` is not valid",
        ),
        (
            "/branches/2",
            with("name", json!("x".repeat(101))),
            400,
            "field `name` is not valid",
        ),
        (
            "/branches/2",
            json!({"name": "Kathmandu"}),
            400,
            "time_zone",
        ),
        ("/branches/0", good.clone(), 400, "id"),
        ("/branches/two", good.clone(), 400, "id"),
        (
            "/branches/99",
            good.clone(),
            404,
            "supermarket 99 was not found",
        ),
    ];
    for (path, body, status, sentence) in cases {
        let answer = put(&api, path, Some(&root), body.clone()).await;
        assert_eq!(answer.status, status, "{path} {body}: {}", answer.text());
        assert!(
            answer.error().contains(sentence),
            "{path} {body}: {}",
            answer.error()
        );
    }
    let branches = store.branches().await.unwrap();
    assert_eq!(branches, icash::core::Branch::defaults(), "nothing changed");
    let trail = send(&api, request_with_key("GET", "/admin/audit", Some(&root))).await;
    let entries = trail.json()["entries"].as_array().unwrap().clone();
    assert!(
        entries.iter().all(|entry| entry["kind"] == "key.created"),
        "no branch change audited: {entries:?}"
    );
}

async fn with_authentication_off_branches_are_open(store: SharedStore) {
    let api = api(store.clone());
    let listed = send(&api, request_with_key("GET", "/branches", None)).await;
    assert_eq!(listed.status, 200);
    let changed = put(
        &api,
        "/branches/3",
        None,
        json!({"name": "Night shop", "time_zone": "America/New_York", "day_starts_at": "04:30"}),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.text());
    let branch = &store.branches().await.unwrap()[2];
    assert_eq!(branch.time_zone().name(), "America/New_York");
    assert_eq!(branch.day_starts_at().to_string(), "04:30");
}
