//! Refunds and voids over HTTP, on both stores: the answers a client sees, the receipt that
//! shows them, the refusals and their sentences, and the statistics that count them.

use icash::http::SharedStore;
use serde_json::{Value, json};

use crate::api::{Answer, Api, api, get, post_json, send};
use crate::http::put_catalog;
use crate::support::on_both_stores;

on_both_stores!(
    a_refund_and_a_void_show_on_the_receipt_and_in_the_statistics,
    refusals_say_what_is_wrong_and_write_nothing,
    a_refund_retried_with_its_key_is_replayed,
);

async fn buy(api: &Api, branch: i32, items: &[i32]) -> Value {
    let items: Vec<Value> = items.iter().map(|id| json!({"product_id": id})).collect();
    let body = json!({"supermarket_id": branch, "user_id": "new", "items": items}).to_string();
    let answer = post_json(api, &body).await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    answer.json()
}

fn post(path: &str, body: &str) -> warp::test::RequestBuilder {
    warp::test::request()
        .method("POST")
        .path(path)
        .header("content-type", "application/json")
        .body(body)
}

async fn refund(api: &Api, id: &Value, body: &str) -> Answer {
    send(
        api,
        post(&format!("/cash-register/purchases/{id}/refunds"), body),
    )
    .await
}

async fn void(api: &Api, id: &Value, body: &str) -> Answer {
    send(
        api,
        post(&format!("/cash-register/purchases/{id}/void"), body),
    )
    .await
}

async fn a_refund_and_a_void_show_on_the_receipt_and_in_the_statistics(store: SharedStore) {
    put_catalog(store.as_ref()).await;
    let api = api(store);
    let kept = buy(&api, 1, &[1, 3, 4]).await;
    let voided = buy(&api, 2, &[2, 5]).await;
    let (kept_id, voided_id) = (&kept["purchase_id"], &voided["purchase_id"]);

    let eggs = refund(&api, kept_id, r#"{"items": [{"product_id": 3}]}"#).await;
    assert_eq!(eggs.status, 201, "{}", eggs.text());
    let body = eggs.json();
    assert_eq!(body["purchase_id"], *kept_id);
    assert!(body["refund_id"].as_i64().unwrap() > 0);
    assert_eq!(
        body["items"],
        json!([{"product_id": 3, "name": "eggs", "price": 3.0, "quantity": 1}])
    );
    assert_eq!(body["amount"], json!(3.0));
    assert_eq!(body["refunded_by"], Value::Null);
    assert!(chrono::DateTime::parse_from_rfc3339(body["refunded_at"].as_str().unwrap()).is_ok());

    let rest = refund(&api, kept_id, "{}").await;
    assert_eq!(rest.status, 201, "{}", rest.text());
    assert_eq!(
        rest.json()["amount"],
        json!(1.6),
        "milk and gum: 1.50 + 0.10"
    );

    let receipt = get(&api, &format!("/cash-register/purchases/{kept_id}")).await;
    assert_eq!(receipt.status, 200);
    let receipt = receipt.json();
    assert_eq!(receipt["status"], "completed");
    assert_eq!(receipt["void"], Value::Null);
    assert_eq!(receipt["refunds"], json!([body, rest.json()]));
    assert_eq!(
        receipt["total_amount"], kept["total_amount"],
        "the sale is unchanged"
    );
    assert_eq!(receipt["items"], kept["items"]);

    let voiding = void(&api, voided_id, r#"{"reason": "rung up twice"}"#).await;
    assert_eq!(voiding.status, 200, "{}", voiding.text());
    let voiding = voiding.json();
    assert_eq!(voiding["status"], "voided");
    assert_eq!(voiding["void"]["reason"], "rung up twice");
    assert_eq!(voiding["void"]["voided_by"], Value::Null);
    assert_eq!(voiding["refunds"], json!([]));
    assert_eq!(
        voiding["items"], voided["items"],
        "a voided purchase stays on record"
    );
    let receipt = get(&api, &format!("/cash-register/purchases/{voided_id}")).await;
    assert_eq!(receipt.json(), voiding);

    // The voided purchase counts nowhere; refunds count apart from revenue.
    let statistics = get(&api, "/analytics/statistics").await.json();
    assert_eq!(statistics["total_purchases"], 1);
    assert_eq!(statistics["unique_customers"], 1);
    assert_eq!(statistics["total_revenue"], json!(4.6));
    assert_eq!(statistics["refunds"], json!({"count": 2, "amount": 4.6}));
    assert_eq!(statistics["net_revenue"], json!(0.0));
    assert_eq!(
        statistics["by_supermarket"][1],
        json!({"supermarket_id": 2, "purchase_count": 0, "revenue": 0.0,
               "refunds": {"count": 0, "amount": 0.0}, "net_revenue": 0.0})
    );
    let dashboard = get(&api, "/dashboard").await.json();
    assert_eq!(dashboard["statistics"], statistics);
    // Every unit sold was returned or voided: nothing is a best seller.
    let top = get(&api, "/analytics/top-products").await.json();
    assert_eq!(top, json!({"top_products": []}));
}

async fn refusals_say_what_is_wrong_and_write_nothing(store: SharedStore) {
    put_catalog(store.as_ref()).await;
    let api = api(store);
    let sold = buy(&api, 1, &[1, 2]).await;
    let id = &sold["purchase_id"];
    assert_eq!(
        refund(&api, id, r#"{"items": [{"product_id": 1}]}"#)
            .await
            .status,
        201
    );

    let cases: [(Answer, u16, String); 9] = [
        (
            refund(&api, id, r#"{"items": [{"product_id": 1}]}"#).await,
            409,
            format!("product 1 of purchase {id} was already refunded"),
        ),
        (
            refund(&api, id, r#"{"items": [{"product_id": 5}]}"#).await,
            409,
            format!("product 5 is not on purchase {id}"),
        ),
        (
            refund(&api, id, r#"{"items": []}"#).await,
            400,
            "items must contain at least one product".to_owned(),
        ),
        (
            refund(&api, &json!(999), "{}").await,
            404,
            "purchase 999 was not found".to_owned(),
        ),
        (
            refund(&api, &json!("abc"), "{}").await,
            400,
            "purchase id \"abc\" is not valid: ids are positive whole numbers".to_owned(),
        ),
        (
            void(&api, id, r#"{"reason": "typo"}"#).await,
            409,
            format!("purchase {id} has refunds: a purchase with a refund cannot be voided"),
        ),
        (
            void(&api, id, r#"{"reason": "   "}"#).await,
            400,
            "field `reason` is not valid: expected 1 to 500 characters saying why the purchase is voided".to_owned(),
        ),
        (
            void(&api, id, "{}").await,
            400,
            "the request body is not valid: missing field `reason`".to_owned(),
        ),
        (
            refund(&api, id, r#"{"items": [{"product_id": 2, "quantity": 2}]}"#).await,
            400,
            "field `items[0].quantity` must be 1: a purchase has at most one unit of each product"
                .to_owned(),
        ),
    ];
    for (answer, status, sentence) in &cases {
        assert_eq!(answer.status, *status, "{}", answer.text());
        let error = answer.error();
        assert!(
            error.starts_with(sentence.trim_end_matches('"')) || error == *sentence,
            "{error:?} should say {sentence:?}"
        );
    }
    let receipt = get(&api, &format!("/cash-register/purchases/{id}"))
        .await
        .json();
    assert_eq!(receipt["status"], "completed");
    assert_eq!(receipt["refunds"].as_array().unwrap().len(), 1);

    let other = buy(&api, 1, &[3]).await;
    let other_id = &other["purchase_id"];
    assert_eq!(
        void(&api, other_id, r#"{"reason": "test sale"}"#)
            .await
            .status,
        200
    );
    let twice = void(&api, other_id, r#"{"reason": "test sale"}"#).await;
    assert_eq!(twice.status, 409);
    assert!(twice.error().contains("was already voided"));
    let refunded = refund(&api, other_id, "{}").await;
    assert_eq!(refunded.status, 409);
    assert!(
        refunded
            .error()
            .contains("a voided purchase cannot be refunded")
    );
    let not_json = send(
        &api,
        warp::test::request()
            .method("POST")
            .path(&format!("/cash-register/purchases/{id}/refunds"))
            .body("{}"),
    )
    .await;
    assert_eq!(not_json.status, 415);
}

async fn a_refund_retried_with_its_key_is_replayed(store: SharedStore) {
    put_catalog(store.as_ref()).await;
    let api = api(store);
    let sold = buy(&api, 3, &[1, 2]).await;
    let path = format!("/cash-register/purchases/{}/refunds", sold["purchase_id"]);
    let keyed = |body: &str| post(&path, body).header("idempotency-key", "refund-7");
    let first = send(&api, keyed(r#"{"items": [{"product_id": 2}]}"#)).await;
    assert_eq!(first.status, 201, "{}", first.text());
    assert_eq!(first.header("idempotent-replayed"), None);
    let retry = send(&api, keyed(r#"{"items": [{"product_id": 2}]}"#)).await;
    assert_eq!(retry.status, 201);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(retry.json(), first.json());
    let other = send(&api, keyed(r#"{"items": [{"product_id": 1}]}"#)).await;
    assert_eq!(other.status, 409);
    assert!(
        other
            .error()
            .contains("already used for a different refund")
    );
    let receipt = get(
        &api,
        &format!("/cash-register/purchases/{}", sold["purchase_id"]),
    )
    .await;
    assert_eq!(receipt.json()["refunds"].as_array().unwrap().len(), 1);
}
