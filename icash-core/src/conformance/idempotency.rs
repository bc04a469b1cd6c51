//! Idempotency keys: a retried purchase is recorded once.

use futures::future::join_all;

use crate::error::Error;
use crate::id::CustomerRef;
use crate::idempotency::{IdempotencyKey, Recorded};
use crate::store::Store;

use super::fixture::*;

fn key(text: &str) -> IdempotencyKey {
    IdempotencyKey::new(text).unwrap()
}

/// A retry with the same key and request gets the first purchase back, minted customer
/// included, and records nothing more.
pub async fn a_repeated_key_replays_the_first_purchase(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    let first = store
        .record(
            new_purchase(1, CustomerRef::New, &[MILK, EGGS], day(0)),
            Some(&key("till-1/0001")),
        )
        .await
        .unwrap();
    assert!(matches!(first, Recorded::Created(_)), "{first:?}");
    // The retry comes later, and its "new" customer must not mint another one.
    let retry = store
        .record(
            new_purchase(1, CustomerRef::New, &[MILK, EGGS], day(1)),
            Some(&key("till-1/0001")),
        )
        .await
        .unwrap();
    assert!(retry.is_replay());
    assert_eq!(
        retry.purchase(),
        first.purchase(),
        "the same id, customer, instant and lines"
    );
    assert_eq!(purchase_count(store).await, 1);
    let other = store
        .record(
            new_purchase(1, CustomerRef::New, &[MILK, EGGS], day(1)),
            Some(&key("till-1/0002")),
        )
        .await
        .unwrap();
    assert!(
        matches!(other, Recorded::Created(_)),
        "another key is another purchase"
    );
    assert_eq!(purchase_count(store).await, 2);
}

/// The same key with a different request is refused, and records nothing.
pub async fn a_key_reused_for_another_purchase_is_a_conflict(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    let used = key("till-2/0001");
    store
        .record(
            new_purchase(1, CustomerRef::New, &[MILK], day(0)),
            Some(&used),
        )
        .await
        .unwrap();
    for different in [
        new_purchase(2, CustomerRef::New, &[MILK], day(0)),
        new_purchase(1, CustomerRef::New, &[MILK, EGGS], day(0)),
        new_purchase(1, CustomerRef::Known(customer(A)), &[MILK], day(0)),
    ] {
        let error = store.record(different, Some(&used)).await.unwrap_err();
        assert!(matches!(error, Error::Conflict(_)), "{error:?}");
        assert!(
            error
                .to_string()
                .contains("already used for a different purchase"),
            "{error}"
        );
    }
    assert_eq!(purchase_count(store).await, 1);
}

/// Requests racing with one key record one purchase; every one of them answers with it.
pub async fn racing_requests_with_one_key_record_one_purchase(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    let shared = key("till-3/0001");
    let outcomes = join_all((0..16).map(|_| {
        let shared = &shared;
        async move {
            store
                .record(
                    new_purchase(3, CustomerRef::New, &[BREAD, EGGS], day(0)),
                    Some(shared),
                )
                .await
                .unwrap()
        }
    }))
    .await;
    let created = outcomes
        .iter()
        .filter(|outcome| !outcome.is_replay())
        .count();
    assert_eq!(created, 1, "exactly one request records the purchase");
    assert!(
        outcomes
            .iter()
            .all(|outcome| outcome.purchase() == outcomes[0].purchase())
    );
    assert_eq!(purchase_count(store).await, 1);
}

/// A purchase refused for its content does not keep its key: the corrected retry records.
pub async fn a_refused_purchase_does_not_use_up_its_key(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    let retried = key("till-4/0001");
    let error = store
        .record(
            new_purchase(1, CustomerRef::New, &[99], day(0)),
            Some(&retried),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Invalid(_)), "{error:?}");
    let corrected = store
        .record(
            new_purchase(1, CustomerRef::New, &[MILK], day(0)),
            Some(&retried),
        )
        .await
        .unwrap();
    assert!(matches!(corrected, Recorded::Created(_)), "{corrected:?}");
}

/// Two keys that send the same idempotency key value keep apart: each records its own
/// purchase, and each retry replays its sender's.
pub async fn idempotency_keys_are_scoped_to_their_sender(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    let by = |name: &str| Some(crate::key::KeyName::new(name).unwrap());
    let same = key("0001");
    let first = store
        .record(
            new_purchase(1, CustomerRef::New, &[MILK], day(0)).recorded_by(by("till-1")),
            Some(&same),
        )
        .await
        .unwrap();
    let second = store
        .record(
            new_purchase(2, CustomerRef::New, &[EGGS], day(0)).recorded_by(by("till-2")),
            Some(&same),
        )
        .await
        .unwrap();
    assert!(matches!(second, Recorded::Created(_)), "{second:?}");
    assert_ne!(first.purchase().id(), second.purchase().id());
    let unauthenticated = store
        .record(
            new_purchase(3, CustomerRef::New, &[BREAD], day(0)),
            Some(&same),
        )
        .await
        .unwrap();
    assert!(matches!(unauthenticated, Recorded::Created(_)));
    let retry = store
        .record(
            new_purchase(2, CustomerRef::New, &[EGGS], day(1)).recorded_by(by("till-2")),
            Some(&same),
        )
        .await
        .unwrap();
    assert!(retry.is_replay());
    assert_eq!(retry.purchase(), second.purchase());
    assert_eq!(purchase_count(store).await, 3);
}
