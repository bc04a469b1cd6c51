//! Tills that were offline, over HTTP, on both stores: a batch's per-purchase answers, its
//! limits, resends at any later time, and a single purchase with its own id and sale time.

use chrono::{Duration, Utc};
use icash::core::{Filter, KeyName, NewKey, OfflineWindow, Origin, Role};
use icash::http::{ApiConfig, SharedStore};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::api::{Answer, Api, api, api_with, purchase_request, request_with_key, send};
use crate::http::put_catalog;
use crate::support::on_both_stores;

on_both_stores!(
    a_batch_answers_each_purchase_in_its_place,
    a_resent_batch_records_nothing_twice,
    a_batch_is_refused_whole_when_malformed_or_too_large,
    a_purchase_carries_its_own_id_and_sale_time,
);

fn offline(client_id: &str, at: chrono::DateTime<Utc>, branch: i32, items: &[i32]) -> Value {
    json!({
        "client_id": client_id,
        "purchased_at": at.to_rfc3339(),
        "supermarket_id": branch,
        "user_id": "new",
        "items": items.iter().map(|id| json!({"product_id": id})).collect::<Vec<_>>(),
    })
}

async fn post_batch(api: &Api, key: Option<&str>, purchases: &[Value]) -> Answer {
    let body = json!({ "purchases": purchases }).to_string();
    send(
        api,
        request_with_key("POST", "/cash-register/purchases/batch", key)
            .header("content-type", "application/json")
            .body(body),
    )
    .await
}

fn ids() -> Vec<String> {
    (0..8).map(|_| Uuid::new_v4().to_string()).collect()
}

async fn a_batch_answers_each_purchase_in_its_place(store: SharedStore) {
    put_catalog(store.as_ref()).await;
    let till = NewKey::new(
        KeyName::new("till-1").unwrap(),
        Role::Till,
        Some(1.try_into().unwrap()),
    )
    .unwrap();
    let (_, secret) = store.create_key(&till, &Origin::system()).await.unwrap();
    let api = api_with(store.clone(), ApiConfig::required());
    let key = Some(secret.expose());
    let id = ids();
    let now = Utc::now();
    // Handed in alone first, while the till was briefly online.
    let earlier = post_batch(&api, key, &[offline(&id[1], now, 1, &[2])]).await;
    let earlier_id = earlier.json()["results"][0]["purchase_id"]
        .as_i64()
        .unwrap();

    let answer = post_batch(
        &api,
        key,
        &[
            offline(&id[0], now - Duration::hours(30), 1, &[1, 3]),
            offline(&id[1], now, 1, &[2]),
            offline(&id[2], now, 2, &[1]),
            offline(&id[3], now - Duration::days(8), 1, &[1]),
            offline(&id[4], now, 1, &[1, 42]),
            offline(&id[5], now + Duration::minutes(20), 1, &[1]),
        ],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let results = answer.json()["results"].as_array().unwrap().clone();
    let statuses: Vec<i64> = results
        .iter()
        .map(|r| r["status"].as_i64().unwrap())
        .collect();
    assert_eq!(statuses, [201, 200, 403, 400, 400, 400]);
    for (result, client_id) in results.iter().zip(&id) {
        assert_eq!(result["client_id"], client_id.as_str(), "in the order sent");
    }
    assert_eq!(results[1]["purchase_id"], earlier_id);
    let sentences: Vec<&str> = results[2..]
        .iter()
        .map(|r| {
            assert!(r.get("purchase_id").is_none(), "{r}");
            r["error"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        sentences[0],
        "a till of branch 1 may not record purchases for branch 2"
    );
    assert!(
        sentences[1].contains("older than the 7 days"),
        "{}",
        sentences[1]
    );
    assert_eq!(sentences[2], "product 42 does not exist");
    assert!(
        sentences[3].contains("is in the future"),
        "{}",
        sentences[3]
    );

    // The late purchase is on its receipt at its own time and prices, named by its key.
    let recorded = results[0]["purchase_id"].as_i64().unwrap();
    let receipt = send(
        &api,
        request_with_key("GET", &format!("/cash-register/purchases/{recorded}"), key),
    )
    .await
    .json();
    assert_eq!(receipt["total_amount"], 4.5);
    assert_eq!(receipt["client_id"], id[0].as_str());
    assert_eq!(receipt["recorded_by"], "till-1");
    let at: chrono::DateTime<Utc> = receipt["timestamp"].as_str().unwrap().parse().unwrap();
    assert!((at - (now - Duration::hours(30))).num_milliseconds().abs() < 1);
    let statistics = store.statistics(&Filter::ALL).await.unwrap();
    assert_eq!(
        statistics.total_purchases, 2,
        "refused purchases write nothing"
    );
}

async fn a_resent_batch_records_nothing_twice(store: SharedStore) {
    put_catalog(store.as_ref()).await;
    // Without keys, every client shares one scope.
    let api = api(store.clone());
    let id = ids();
    let now = Utc::now();
    let batch: Vec<Value> = (0..5)
        .map(|n| {
            offline(
                &id[n],
                now - Duration::minutes(n as i64),
                1 + n as i32 % 3,
                &[1],
            )
        })
        .collect();
    let first = post_batch(&api, None, &batch).await.json();
    let (again, concurrent) = tokio::join!(
        post_batch(&api, None, &batch),
        post_batch(&api, None, &batch)
    );
    for resent in [again.json(), concurrent.json()] {
        for (sent, resent) in first["results"]
            .as_array()
            .unwrap()
            .iter()
            .zip(resent["results"].as_array().unwrap())
        {
            assert_eq!(sent["status"], 201);
            assert_eq!(resent["status"], 200);
            assert_eq!(sent["purchase_id"], resent["purchase_id"]);
        }
    }
    // A single purchase naming one of them is the same purchase.
    let single = offline(&id[2], now, 1, &[1]).to_string();
    let answer = send(&api, purchase_request(&single)).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.json()["purchase_id"],
        first["results"][2]["purchase_id"]
    );
    assert_eq!(answer.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        store
            .statistics(&Filter::ALL)
            .await
            .unwrap()
            .total_purchases,
        5
    );
}

async fn a_batch_is_refused_whole_when_malformed_or_too_large(store: SharedStore) {
    put_catalog(store.as_ref()).await;
    let api = api(store.clone());
    let now = Utc::now();
    let too_many: Vec<Value> = (0..1001)
        .map(|_| offline(&Uuid::new_v4().to_string(), now, 1, &[1]))
        .collect();
    let answer = post_batch(&api, None, &too_many).await;
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.error(),
        "purchases has 1001 purchases: a batch holds 1 to 1000"
    );
    let answer = post_batch(&api, None, &[]).await;
    assert_eq!(answer.status, 400);

    let mut missing = offline("x", now, 1, &[1]);
    missing.as_object_mut().unwrap().remove("client_id");
    let good = offline(&Uuid::new_v4().to_string(), now, 1, &[1]);
    let answer = post_batch(&api, None, &[good.clone(), missing]).await;
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.error(),
        "purchases[1] is not valid: a purchase of a batch needs its `client_id` and `purchased_at`"
    );
    let answer = post_batch(&api, None, &[offline("not-a-uuid", now, 1, &[1])]).await;
    assert_eq!(answer.status, 400);
    assert!(
        answer
            .error()
            .starts_with("purchases[0] is not valid: client_id \"not-a-uuid\""),
        "{}",
        answer.error()
    );
    let repeated = offline(&Uuid::new_v4().to_string(), now, 1, &[1, 1]);
    let answer = post_batch(&api, None, &[repeated]).await;
    assert!(
        answer.error().contains("appears more than once"),
        "{}",
        answer.error()
    );

    // The batch's own body limit.
    let small = ApiConfig {
        batch_body_limit: 2_000,
        ..ApiConfig::default()
    };
    let limited = api_with(store.clone(), small);
    let batch: Vec<Value> = (0..20)
        .map(|_| offline(&Uuid::new_v4().to_string(), now, 1, &[1]))
        .collect();
    let answer = post_batch(&limited, None, &batch).await;
    assert_eq!(answer.status, 413);
    assert_eq!(
        answer.error(),
        "the request body is larger than the limit of 2000 bytes"
    );
    assert!(!store.has_purchases().await.unwrap(), "nothing is written");
    // Under its limit the same batch is taken, though it is larger than a single purchase's.
    let answer = post_batch(&api, None, &batch).await;
    assert_eq!(answer.status, 200);
}

async fn a_purchase_carries_its_own_id_and_sale_time(store: SharedStore) {
    put_catalog(store.as_ref()).await;
    let api = api(store.clone());
    let client_id = Uuid::new_v4().to_string();
    let at = Utc::now() - Duration::days(3);
    let body = offline(&client_id, at, 2, &[1, 2]).to_string();
    let first = send(&api, purchase_request(&body)).await;
    assert_eq!(first.status, 201, "{}", first.text());
    let first = first.json();
    assert_eq!(first["client_id"], client_id.as_str());
    let recorded: chrono::DateTime<Utc> = first["timestamp"].as_str().unwrap().parse().unwrap();
    assert!((recorded - at).num_milliseconds().abs() < 1);
    let later = send(&api, purchase_request(&body)).await;
    assert_eq!(later.status, 200);
    assert_eq!(later.json(), first, "the same purchase, customer included");

    let old = offline(
        &Uuid::new_v4().to_string(),
        Utc::now() - Duration::days(10),
        2,
        &[1],
    );
    let refused = send(&api, purchase_request(&old.to_string())).await;
    assert_eq!(refused.status, 400);
    assert!(
        refused.error().contains("older than the 7 days"),
        "{}",
        refused.error()
    );
    let wider = api_with(
        store.clone(),
        ApiConfig {
            offline_window: OfflineWindow::days(30),
            ..ApiConfig::default()
        },
    );
    assert_eq!(
        send(&wider, purchase_request(&old.to_string()))
            .await
            .status,
        201
    );
    // The hour it was made in counts it, as every filter does.
    let hour = Filter::new(
        None,
        Some(at - Duration::minutes(1)),
        Some(at + Duration::minutes(1)),
    )
    .unwrap();
    let statistics = store.statistics(&hour).await.unwrap();
    assert_eq!(statistics.total_purchases, 1);
    assert_eq!(statistics.total_revenue, "3.5".parse().unwrap());
}
