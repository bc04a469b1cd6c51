//! `Idempotency-Key` over HTTP on both stores: a retry answers as the first request did and
//! records nothing; the same key for another purchase is a 409; racing retries record once.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use icash::core::{Filter, Store};
use icash::http::{IDEMPOTENT_REPLAYED, SharedStore};
use icash::postgres::testing::TestDb;

use crate::api::{Answer, Api, api, purchase_request, send};
use crate::http::put_catalog;
use crate::support::on_both_stores;

on_both_stores!(
    a_retry_answers_as_the_first_request_did,
    a_key_for_another_purchase_is_a_409,
    racing_retries_record_once
);

const BODY: &str =
    r#"{"supermarket_id": 2, "user_id": "new", "items": [{"product_id": 1}, {"product_id": 3}]}"#;

async fn post(api: &Api, key: Option<&str>, body: &str) -> Answer {
    let mut request = purchase_request(body);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    send(api, request).await
}

async fn purchases(store: &dyn Store) -> u64 {
    store
        .statistics(&Filter::ALL)
        .await
        .unwrap()
        .total_purchases
}

async fn a_retry_answers_as_the_first_request_did(store: SharedStore) {
    put_catalog(store.as_ref()).await;
    let api = api(store.clone());
    let first = post(&api, Some("0b6f7c1e-till-9"), BODY).await;
    assert_eq!(first.status, 201, "{}", first.text());
    assert!(first.header(IDEMPOTENT_REPLAYED).is_none());
    let retry = post(&api, Some("0b6f7c1e-till-9"), BODY).await;
    assert_eq!(retry.status, 201);
    assert_eq!(retry.header(IDEMPOTENT_REPLAYED), Some("true"));
    assert_eq!(
        retry.json(),
        first.json(),
        "the same purchase_id and the same minted user_id"
    );
    assert_eq!(purchases(store.as_ref()).await, 1);

    let without_key = post(&api, None, BODY).await;
    assert_eq!(without_key.status, 201);
    assert_ne!(
        without_key.json()["purchase_id"],
        first.json()["purchase_id"],
        "no key, no replay"
    );
    assert_eq!(purchases(store.as_ref()).await, 2);
}

async fn a_key_for_another_purchase_is_a_409(store: SharedStore) {
    put_catalog(store.as_ref()).await;
    let api = api(store.clone());
    assert_eq!(post(&api, Some("key-1"), BODY).await.status, 201);
    let other = post(
        &api,
        Some("key-1"),
        &BODY.replace("\"supermarket_id\": 2", "\"supermarket_id\": 3"),
    )
    .await;
    assert_eq!(other.status, 409);
    assert!(
        other
            .error()
            .contains("already used for a different purchase"),
        "{}",
        other.text()
    );
    for bad in ["", &"k".repeat(256), "has space"] {
        let answer = post(&api, Some(bad), BODY).await;
        assert_eq!(answer.status, 400, "{bad:?}: {}", answer.text());
        assert!(
            answer.error().contains("idempotency key"),
            "{}",
            answer.text()
        );
    }
    let refused = post(
        &api,
        Some("key-2"),
        &BODY.replace("\"product_id\": 3", "\"product_id\": 99"),
    )
    .await;
    assert_eq!(refused.status, 400);
    assert_eq!(
        post(&api, Some("key-2"), BODY).await.status,
        201,
        "a refused request does not use up its key"
    );
    assert_eq!(purchases(store.as_ref()).await, 2);
}

async fn racing_retries_record_once(store: SharedStore) {
    put_catalog(store.as_ref()).await;
    let api = api(store.clone());
    let answers = join_all((0..16).map(|_| post(&api, Some("racing-key"), BODY))).await;
    assert!(
        answers.iter().all(|answer| answer.status == 201),
        "every racer is answered"
    );
    let ids: Vec<_> = answers
        .iter()
        .map(|answer| answer.json()["purchase_id"].clone())
        .collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "every racer gets the one purchase: {ids:?}"
    );
    let replays = answers
        .iter()
        .filter(|answer| answer.header(IDEMPOTENT_REPLAYED).is_some())
        .count();
    assert_eq!(replays, 15);
    assert_eq!(purchases(store.as_ref()).await, 1);
}

/// After the time to live, a key is as good as new; the purge deletes it.
#[tokio::test]
async fn an_expired_key_records_again_and_is_purged() {
    let db = TestDb::new().await;
    let store = Arc::new(
        db.store()
            .clone()
            .with_idempotency_ttl(Duration::from_millis(200)),
    );
    put_catalog(store.as_ref()).await;
    let api = api(store.clone());
    let first = post(&api, Some("short-lived"), BODY).await;
    assert_eq!(
        post(&api, Some("short-lived"), BODY)
            .await
            .header(IDEMPOTENT_REPLAYED),
        Some("true")
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let after = post(&api, Some("short-lived"), BODY).await;
    assert_eq!(after.status, 201);
    assert!(after.header(IDEMPOTENT_REPLAYED).is_none());
    assert_ne!(after.json()["purchase_id"], first.json()["purchase_id"]);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(store.purge_expired_keys().await.unwrap(), 1);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM idempotency_keys")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(left, 0);
    assert_eq!(purchases(store.as_ref()).await, 2);
}
