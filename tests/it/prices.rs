//! Prices over time, over HTTP, on both stores: a product added, its price changed from the
//! past and for the future, its history, its retirement, and the audit trail of each change.

use chrono::{Duration, Utc};
use icash::http::{ApiConfig, SharedStore};
use serde_json::{Value, json};

use crate::api::{Answer, Api, api_with};
use crate::http::put_catalog;
use crate::support::on_both_stores;

on_both_stores!(
    a_product_is_added_repriced_and_retired,
    prices_and_products_are_checked,
);

/// Sends `method` `path` with `key` and a JSON `body`, if any.
async fn call(api: &Api, key: &str, method: &str, path: &str, body: Option<Value>) -> Answer {
    crate::admin::call(api, method, path, key, body).await
}

async fn admin(store: &SharedStore) -> String {
    crate::admin::admin(store.as_ref())
        .await
        .expose()
        .to_owned()
}

async fn a_product_is_added_repriced_and_retired(store: SharedStore) {
    put_catalog(store.as_ref()).await;
    let key = admin(&store).await;
    let api = api_with(store.clone(), ApiConfig::required());
    let key = key.as_str();

    let added = call(
        &api,
        key,
        "POST",
        "/cash-register/products",
        Some(json!({"name": "green tea", "price": 4.20})),
    )
    .await;
    assert_eq!(added.status, 201, "{}", added.text());
    assert_eq!(
        added.json(),
        json!({"id": 6, "name": "green tea", "price": 4.2})
    );

    // A price from yesterday on, for the sales tills still have to hand in, and one from
    // tomorrow on.
    let yesterday = Utc::now() - Duration::days(1);
    let changed = call(
        &api,
        key,
        "PUT",
        "/cash-register/products/1/price",
        Some(json!({"price": 1.65, "effective_from": yesterday.to_rfc3339()})),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.text());
    let tomorrow = Utc::now() + Duration::days(1);
    call(
        &api,
        key,
        "PUT",
        "/cash-register/products/1/price",
        Some(json!({"price": 1.80, "effective_from": tomorrow.to_rfc3339()})),
    )
    .await;
    let history = call(&api, key, "GET", "/cash-register/products/1/prices", None)
        .await
        .json();
    let prices: Vec<f64> = history["prices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["price"].as_f64().unwrap())
        .collect();
    assert_eq!(prices, [1.5, 1.65, 1.8]);
    assert_eq!(history["prices"][0]["effective_from"], Value::Null);
    assert_eq!(history["added_at"], Value::Null);
    let listed = call(&api, key, "GET", "/cash-register/products", None)
        .await
        .json();
    assert_eq!(
        listed[0],
        json!({"id": 1, "name": "milk", "price": 1.65}),
        "the price in force now"
    );

    // A late sale from two days ago pays the old price; one made now, the new one.
    let sale = |at: chrono::DateTime<Utc>| {
        json!({
        "supermarket_id": 1, "user_id": "new", "items": [{"product_id": 1}, {"product_id": 6}],
        "client_id": uuid::Uuid::new_v4().to_string(), "purchased_at": at.to_rfc3339()})
    };
    let before_tea = call(
        &api,
        key,
        "POST",
        "/cash-register/purchase",
        Some(sale(Utc::now() - Duration::days(2))),
    )
    .await;
    assert_eq!(before_tea.status, 400);
    assert!(
        before_tea
            .error()
            .contains("product 6 was not in the catalog yet"),
        "{}",
        before_tea.error()
    );
    let now = call(
        &api,
        key,
        "POST",
        "/cash-register/purchase",
        Some(sale(Utc::now())),
    )
    .await;
    assert_eq!(now.json()["total_amount"], 5.85);

    let retired = call(&api, key, "POST", "/cash-register/products/6/retire", None).await;
    assert_eq!(retired.status, 200);
    assert!(retired.json()["retired_at"].is_string());
    let refused = call(
        &api,
        key,
        "POST",
        "/cash-register/purchase",
        Some(sale(Utc::now())),
    )
    .await;
    assert_eq!(refused.status, 400);
    assert!(
        refused.error().starts_with("product 6 was retired at "),
        "{}",
        refused.error()
    );
    let listed = call(&api, key, "GET", "/cash-register/products", None)
        .await
        .json();
    assert_eq!(
        listed.as_array().unwrap().len(),
        5,
        "a retired product is off the catalog"
    );
    let top = call(
        &api,
        key,
        "GET",
        "/analytics/top-products?max_rank=10",
        None,
    )
    .await
    .json();
    assert!(
        top.to_string().contains("green tea"),
        "its sales stay: {top}"
    );

    let trail = call(&api, key, "GET", "/admin/audit", None).await.json();
    let kinds: Vec<(&str, &str)> = trail["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["target"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds[..4],
        [
            ("product.retired", "product 6"),
            ("price.changed", "product 1"),
            ("price.changed", "product 1"),
            ("product.added", "product 6"),
        ]
    );
    assert_eq!(trail["entries"][0]["actor"], "root");
}

async fn prices_and_products_are_checked(store: SharedStore) {
    put_catalog(store.as_ref()).await;
    let key = admin(&store).await;
    let api = api_with(store.clone(), ApiConfig::required());
    let key = key.as_str();
    for (body, sentence) in [
        (json!({"name": "tea", "price": 1.234}), "fraction of a cent"),
        (json!({"name": "tea", "price": -1}), "negative"),
        (json!({"name": "  ", "price": 1}), "must not be empty"),
        (json!({"name": "MILK", "price": 1}), "already on sale"),
    ] {
        let answer = call(
            &api,
            key,
            "POST",
            "/cash-register/products",
            Some(body.clone()),
        )
        .await;
        assert!(
            matches!(answer.status, 400 | 409),
            "{body}: {}",
            answer.status
        );
        assert!(
            answer.error().contains(sentence),
            "{body}: {}",
            answer.error()
        );
    }
    let missing = call(
        &api,
        key,
        "PUT",
        "/cash-register/products/99/price",
        Some(json!({"price": 1})),
    )
    .await;
    assert_eq!(
        (missing.status, missing.error()),
        (404, "product 99 was not found".to_owned())
    );
    let bad = call(
        &api,
        key,
        "GET",
        "/cash-register/products/zero/prices",
        None,
    )
    .await;
    assert_eq!(bad.status, 400);
    call(&api, key, "POST", "/cash-register/products/2/retire", None).await;
    let retired = call(
        &api,
        key,
        "PUT",
        "/cash-register/products/2/price",
        Some(json!({"price": 1})),
    )
    .await;
    assert_eq!(retired.status, 409);
    assert!(
        retired.error().contains("its prices can no longer change"),
        "{}",
        retired.error()
    );
}
