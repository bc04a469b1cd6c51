//! Rate limits over HTTP: an address that fails to authenticate too often is slowed, and a key
//! over its rate waits; both answer 429 with `Retry-After`.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use icash::core::{KeyName, MemoryStore, NewKey, Origin, Role, Store};
use icash::http::{ApiConfig, RateLimits, SharedStore};

use crate::api::{Answer, Api, api_with, request_with_key, send};

async fn products(api: &Api, key: Option<&str>, from: &str) -> Answer {
    let request = request_with_key("GET", "/cash-register/products", key)
        .remote_addr(from.parse::<SocketAddr>().unwrap());
    send(api, request).await
}

fn limited(store: &SharedStore, limits: RateLimits) -> Api {
    api_with(
        store.clone(),
        ApiConfig {
            rate_limits: limits,
            ..ApiConfig::required()
        },
    )
}

async fn analyst(store: &dyn Store) -> String {
    let key = NewKey::new(KeyName::new("analyst").unwrap(), Role::Analyst, None).unwrap();
    let secret = store.create_key(&key, &Origin::system()).await.unwrap().1;
    secret.expose().to_owned()
}

#[tokio::test]
async fn an_address_that_keeps_failing_to_authenticate_is_slowed() {
    let store: SharedStore = Arc::new(MemoryStore::new());
    let good = analyst(store.as_ref()).await;
    let api = limited(
        &store,
        RateLimits {
            failures_per_minute: NonZeroU32::new(3),
            ..RateLimits::default()
        },
    );
    let guesser = "192.0.2.1:5000";
    for attempt in 0..3 {
        let answer = products(&api, Some("icash_not-a-key-at-all"), guesser).await;
        assert_eq!(answer.status, 401, "attempt {attempt}");
    }
    let slowed = products(&api, Some("icash_not-a-key-at-all"), guesser).await;
    assert_eq!(slowed.status, 429);
    let retry_after: u64 = slowed.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert!(slowed.error().contains("too many failed authentications"));
    let meanwhile = products(&api, Some(&good), guesser).await;
    assert_eq!(
        meanwhile.status, 429,
        "no key is looked up for the address meanwhile"
    );
    let elsewhere = products(&api, Some(&good), "192.0.2.2:5000").await;
    assert_eq!(elsewhere.status, 200, "other addresses are not slowed");
    let without_key = products(&api, None, "192.0.2.3:5000").await;
    assert_eq!(
        without_key.status, 401,
        "a request without a key is no guess"
    );
}

#[tokio::test]
async fn a_key_over_its_rate_waits() {
    let store: SharedStore = Arc::new(MemoryStore::new());
    let key = analyst(store.as_ref()).await;
    let api = limited(
        &store,
        RateLimits {
            per_key_per_second: NonZeroU32::new(2),
            ..RateLimits::default()
        },
    );
    let from = "192.0.2.1:5000";
    assert_eq!(products(&api, Some(&key), from).await.status, 200);
    assert_eq!(products(&api, Some(&key), from).await.status, 200);
    let over = products(&api, Some(&key), from).await;
    assert_eq!(over.status, 429);
    assert_eq!(over.header("retry-after"), Some("1"));
    assert!(over.error().contains("more requests than its rate allows"));
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(
        products(&api, Some(&key), from).await.status,
        200,
        "the budget refills"
    );
}
