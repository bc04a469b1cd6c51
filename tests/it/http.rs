//! Every endpoint through warp's test utilities, on both stores: the contract's figures, the
//! purchase path, each refusal's status and sentence, CORS, request ids and paging.

use std::sync::Arc;

use icash::core::import::Policy;
use icash::core::{MemoryStore, Money, Product, ProductId, Store};
use icash::data::load_dir;
use icash::http::{ApiConfig, SharedStore};
use icash::postgres::testing::TestDb;
use serde_json::{Value, json};

use crate::api::{api, get, post_json, send};
use crate::support::{data_dir, on_both_stores, seed_dir};

on_both_stores!(
    the_contract_answers_the_reference_figures,
    a_purchase_is_recorded_and_its_receipt_matches,
    a_bad_purchase_gets_a_400_that_names_the_problem_and_writes_nothing,
    each_refusal_has_its_status_and_a_sentence,
    paging_walks_the_whole_list_without_gaps,
    cors_preflights_and_request_ids,
);

/// Loads the old system's files; `false` (the test is skipped) where they are not found.
async fn load_seed(store: &dyn Store) -> bool {
    let Some(seed) = seed_dir() else {
        return false;
    };
    load_dir(store, &seed, Policy::Strict)
        .await
        .expect("the reference files load");
    true
}

/// Products 1 to 5: milk 1.50, bread 2.00, eggs 3.00, gum 0.10, candy 0.20.
pub async fn put_catalog(store: &dyn Store) {
    let products: Vec<Product> = [
        ("milk", "1.50"),
        ("bread", "2.00"),
        ("eggs", "3.00"),
        ("gum", "0.10"),
        ("candy", "0.20"),
    ]
    .iter()
    .enumerate()
    .map(|(i, (name, price))| {
        Product::new(
            ProductId::new(i as i32 + 1).unwrap(),
            name,
            price.parse().unwrap(),
        )
        .unwrap()
    })
    .collect();
    store.put_products(&products).await.unwrap();
}

async fn the_contract_answers_the_reference_figures(store: SharedStore) {
    if !load_seed(store.as_ref()).await {
        return;
    }
    let api = api(store);

    let index = get(&api, "/").await;
    assert_eq!(index.status, 200);
    let endpoints = &index.json()["endpoints"];
    assert_eq!(endpoints["health"], "GET /health");
    assert_eq!(
        endpoints["cash_register"]["purchase"],
        "POST /cash-register/purchase"
    );
    assert_eq!(
        endpoints["analytics"]["top_products"],
        "GET /analytics/top-products"
    );
    assert_eq!(endpoints["openapi"], "GET /openapi.json");

    let health = get(&api, "/health").await;
    assert_eq!(
        (health.status, health.json()["status"].clone()),
        (200, json!("healthy"))
    );

    let products = get(&api, "/cash-register/products").await.json();
    assert_eq!(products.as_array().unwrap().len(), 10);
    assert_eq!(products[0], json!({"id": 1, "name": "milk", "price": 1.5}));

    let customers = get(&api, "/cash-register/customers").await.json();
    let counts: Vec<u64> = customers
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["purchase_count"].as_u64().unwrap())
        .collect();
    assert_eq!(counts.len(), 20);
    assert!(
        counts.windows(2).all(|pair| pair[0] >= pair[1]),
        "most purchases first: {counts:?}"
    );

    assert_eq!(
        get(&api, "/analytics/unique-customers").await.json(),
        json!({"unique_customers": 1762})
    );

    // The whole list is streamed: still one JSON document, typed as such.
    let answer = get(&api, "/analytics/loyal-customers").await;
    assert_eq!(answer.header("content-type"), Some("application/json"));
    let loyal = answer.json();
    assert_eq!(loyal["loyal_customers_count"], 142);
    assert_eq!(loyal["loyal_customers"].as_array().unwrap().len(), 142);
    assert!(
        loyal.get("next_cursor").is_none(),
        "the contract's shape without paging"
    );
    let first = &loyal["loyal_customers"][0];
    for field in [
        "user_id",
        "purchase_count",
        "total_spent",
        "first_purchase",
        "last_purchase",
    ] {
        assert!(
            first.get(field).is_some(),
            "loyal customers have {field}: {first}"
        );
    }

    // The contract's fields with the old figures; icash adds what refunds change, at zero.
    let top = get(&api, "/analytics/top-products").await.json();
    assert_eq!(
        top,
        json!({"top_products": [
            {"product_id": 1, "product_name": "milk", "units_sold": 1823, "units_returned": 0, "rank": 1},
            {"product_id": 3, "product_name": "eggs", "units_sold": 1812, "units_returned": 0, "rank": 2},
            {"product_id": 2, "product_name": "bread", "units_sold": 1777, "units_returned": 0, "rank": 3},
        ]})
    );

    let statistics = get(&api, "/analytics/statistics").await;
    assert!(
        statistics.text().contains("\"total_revenue\":13608.9"),
        "exact money: {}",
        statistics.text()
    );
    assert_eq!(
        statistics.json(),
        json!({
            "unique_customers": 1762, "total_purchases": 2183, "total_revenue": 13608.9,
            "refunds": {"count": 0, "amount": 0.0}, "net_revenue": 13608.9,
            "by_supermarket": [
                {"supermarket_id": 1, "purchase_count": 313, "revenue": 1936.2,
                 "refunds": {"count": 0, "amount": 0.0}, "net_revenue": 1936.2},
                {"supermarket_id": 2, "purchase_count": 981, "revenue": 6152.7,
                 "refunds": {"count": 0, "amount": 0.0}, "net_revenue": 6152.7},
                {"supermarket_id": 3, "purchase_count": 889, "revenue": 5520.0,
                 "refunds": {"count": 0, "amount": 0.0}, "net_revenue": 5520.0},
            ]
        })
    );

    let dashboard = get(&api, "/dashboard").await.json();
    assert_eq!(dashboard["unique_customers"], 1762);
    assert_eq!(dashboard["loyal_customers_count"], 142);
    assert_eq!(
        dashboard["loyal_customers"].as_array().unwrap()[..],
        loyal["loyal_customers"].as_array().unwrap()[..10]
    );
    assert_eq!(dashboard["top_products"], top["top_products"]);
    assert_eq!(dashboard["statistics"], statistics.json());

    let branch = get(&api, "/analytics/statistics?supermarket_id=2")
        .await
        .json();
    assert_eq!(
        (
            branch["total_purchases"].clone(),
            branch["total_revenue"].clone()
        ),
        (json!(981), json!(6152.7))
    );
    let nobody = get(
        &api,
        "/analytics/unique-customers?from=2030-01-01T00:00:00Z",
    )
    .await
    .json();
    assert_eq!(nobody, json!({"unique_customers": 0}));
}

async fn a_purchase_is_recorded_and_its_receipt_matches(store: SharedStore) {
    put_catalog(store.as_ref()).await;
    let api = api(store.clone());
    let answer = post_json(&api, r#"{"supermarket_id": 1, "user_id": "new", "items": [{"product_id": 4}, {"product_id": 5}]}"#).await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    let purchase = answer.json();
    assert_eq!(
        purchase["total_amount"],
        json!(0.3),
        "0.1 + 0.2 is exactly 0.3"
    );
    assert!(
        answer.text().contains("\"total_amount\":0.3,"),
        "{}",
        answer.text()
    );
    let user_id = purchase["user_id"].as_str().unwrap();
    assert!(
        uuid::Uuid::parse_str(user_id).is_ok(),
        "a minted customer UUID: {user_id}"
    );
    assert_eq!(
        purchase["items"],
        json!([
            {"product_id": 4, "name": "gum", "price": 0.1, "quantity": 1},
            {"product_id": 5, "name": "candy", "price": 0.2, "quantity": 1},
        ])
    );
    let receipt = get(
        &api,
        &format!("/cash-register/purchases/{}", purchase["purchase_id"]),
    )
    .await;
    assert_eq!(receipt.status, 200);
    assert_eq!(
        receipt.json(),
        crate::support::untouched_receipt(&purchase),
        "the receipt is the purchase's answer, completed and without refunds"
    );

    let known = r#"{"supermarket_id": 3, "user_id": "01E1E159-8045-43C2-88DD-5682B18BD680", "items": [{"product_id": 1, "quantity": 1}], "note": "ignored"}"#;
    let again = post_json(&api, known).await;
    assert_eq!(again.status, 201, "{}", again.text());
    assert_eq!(
        again.json()["user_id"],
        "01e1e159-8045-43c2-88dd-5682b18bd680"
    );
    let statistics = get(&api, "/analytics/statistics").await.json();
    assert_eq!(
        (
            statistics["total_purchases"].clone(),
            statistics["total_revenue"].clone()
        ),
        (json!(2), json!(1.8))
    );
}

async fn a_bad_purchase_gets_a_400_that_names_the_problem_and_writes_nothing(store: SharedStore) {
    put_catalog(store.as_ref()).await;
    let api = api(store.clone());
    let cases = [
        ("{", "not valid JSON"),
        ("", "empty"),
        (
            "[1, \"new\", [{\"product_id\": 1}]]",
            "must be a JSON object",
        ),
        ("{}", "missing field"),
        (
            r#"{"user_id": "new", "items": [{"product_id": 1}]}"#,
            "missing field `supermarket_id`",
        ),
        (
            r#"{"supermarket_id": "1", "user_id": "new", "items": [{"product_id": 1}]}"#,
            "field `supermarket_id`",
        ),
        (
            r#"{"supermarket_id": 1, "user_id": null, "items": [{"product_id": 1}]}"#,
            "field `user_id`",
        ),
        (
            r#"{"supermarket_id": 1, "user_id": "new", "items": [{"product_id": -3}]}"#,
            "product id -3 is not valid",
        ),
        (
            r#"{"supermarket_id": 1, "user_id": "new", "items": [{"product_id": 1.5}]}"#,
            "field `items[0].product_id`",
        ),
        (
            r#"{"supermarket_id": 1, "user_id": "new", "items": [{"product_id": 99999999999}]}"#,
            "field `items[0].product_id`",
        ),
        (
            r#"{"supermarket_id": 1, "user_id": "new", "items": []}"#,
            "items must contain at least one product",
        ),
        (
            r#"{"supermarket_id": 1, "user_id": "new", "items": [{"product_id": 1}, {"product_id": 1}]}"#,
            "product 1 appears more than once",
        ),
        (
            r#"{"supermarket_id": 1, "user_id": "new", "items": [{"product_id": 1, "quantity": 2}]}"#,
            "field `items[0].quantity` must be 1",
        ),
        (
            r#"{"supermarket_id": 1, "user_id": "new", "items": [{"product_id": 1}, {"product_id": 42}]}"#,
            "product 42 does not exist",
        ),
        (
            r#"{"supermarket_id": 9, "user_id": "new", "items": [{"product_id": 1}]}"#,
            "supermarket 9 does not exist",
        ),
        (
            r#"{"supermarket_id": 0, "user_id": "new", "items": [{"product_id": 1}]}"#,
            "supermarket id 0 is not valid",
        ),
        (
            r#"{"supermarket_id": 1, "user_id": "bob", "items": [{"product_id": 1}]}"#,
            "user_id \"bob\" is not valid",
        ),
        (
            r#"{"supermarket_id": 1, "supermarket_id": 2, "user_id": "new", "items": [{"product_id": 1}]}"#,
            "duplicate field",
        ),
        (
            r#"{"supermarket_id": 1, "user_id": "new", "items": [{"product_id": 1}]} {}"#,
            "trailing characters",
        ),
    ];
    for (body, expected) in cases {
        let answer = post_json(&api, body).await;
        assert_eq!(answer.status, 400, "{body}: {}", answer.text());
        let sentence = answer.error();
        assert!(
            sentence.contains(expected),
            "{body}: expected {expected:?} in {sentence:?}"
        );
    }
    assert!(
        !store.has_purchases().await.unwrap(),
        "no refused purchase was written"
    );
}

async fn each_refusal_has_its_status_and_a_sentence(store: SharedStore) {
    put_catalog(store.as_ref()).await;
    let api = api(store.clone());
    let not_found = get(&api, "/cash-register/nothing-here").await;
    assert_eq!(not_found.status, 404);
    assert!(not_found.error().contains("no endpoint"));
    // HTTP requires a 405 to say which methods the path answers.
    for (method, path, allowed) in [
        ("DELETE", "/analytics/statistics", "GET, HEAD"),
        ("GET", "/cash-register/purchase", "POST"),
        ("DELETE", "/cash-register/purchases/7", "GET, HEAD"),
    ] {
        let wrong_method = send(&api, warp::test::request().method(method).path(path)).await;
        assert_eq!(wrong_method.status, 405, "{method} {path}");
        assert!(wrong_method.error().contains("method"), "{method} {path}");
        assert_eq!(
            wrong_method.header("allow"),
            Some(allowed),
            "{method} {path}"
        );
    }

    let body = r#"{"supermarket_id": 1, "user_id": "new", "items": [{"product_id": 1}]}"#;
    let not_json = send(
        &api,
        warp::test::request()
            .method("POST")
            .path("/cash-register/purchase")
            .header("content-type", "text/plain")
            .body(body),
    )
    .await;
    assert_eq!(not_json.status, 415);
    assert!(not_json.error().contains("Content-Type: application/json"));
    let no_type = send(
        &api,
        warp::test::request()
            .method("POST")
            .path("/cash-register/purchase")
            .body(body),
    )
    .await;
    assert_eq!(no_type.status, 415);

    let small = icash::http::api(
        store.clone(),
        ApiConfig {
            body_limit: 64,
            ..ApiConfig::default()
        },
    );
    let padded = format!(
        r#"{{"supermarket_id": 1, "user_id": "new", "items": [{{"product_id": 1}}], "pad": "{}"}}"#,
        "x".repeat(100)
    );
    let too_large = post_json(&small, &padded).await;
    assert_eq!(too_large.status, 413);
    assert_eq!(
        too_large.error(),
        "the request body is larger than the limit of 64 bytes"
    );
    let default_limit = post_json(&api, &format!(r#"{{"pad": "{}"}}"#, "x".repeat(70_000))).await;
    assert_eq!(default_limit.status, 413);

    let receipt = get(&api, "/cash-register/purchases/12345").await;
    assert_eq!(
        (receipt.status, receipt.error()),
        (404, "purchase 12345 was not found".to_owned())
    );
    let bad_id = get(&api, "/cash-register/purchases/abc").await;
    assert_eq!(bad_id.status, 400);
    assert!(bad_id.error().contains("purchase id"));

    for (path, parameter) in [
        ("/analytics/statistics?supermarket_id=two", "supermarket_id"),
        ("/analytics/top-products?from=yesterday", "from"),
        ("/analytics/unique-customers?to=2025-13-01T00:00:00Z", "to"),
        ("/analytics/loyal-customers?limit=0", "limit"),
        ("/analytics/loyal-customers?cursor=garbage", "cursor"),
        (
            "/analytics/loyal-customers?min_purchases=-1",
            "min_purchases",
        ),
        ("/analytics/top-products?max_rank=x", "max_rank"),
        ("/cash-register/customers?limit=100000", "limit"),
        ("/dashboard?supermarket_id=0", "supermarket_id"),
    ] {
        let answer = get(&api, path).await;
        assert_eq!(answer.status, 400, "{path}: {}", answer.text());
        assert!(
            answer.error().contains(&format!("`{parameter}`")),
            "{path}: {}",
            answer.text()
        );
    }
    let empty_period = get(
        &api,
        "/analytics/statistics?from=2025-02-01T00:00:00Z&to=2025-01-01T00:00:00Z",
    )
    .await;
    assert_eq!(empty_period.status, 400);
    assert!(!store.has_purchases().await.unwrap());
}

async fn paging_walks_the_whole_list_without_gaps(store: SharedStore) {
    if !load_seed(store.as_ref()).await {
        return;
    }
    let api = api(store);
    let everyone = get(&api, "/analytics/loyal-customers").await.json()["loyal_customers"].clone();

    let mut walked = Vec::new();
    let mut path = "/analytics/loyal-customers?limit=50&supermarket_id=".to_owned();
    path.truncate(path.len() - "&supermarket_id=".len());
    loop {
        let answer = get(&api, &path).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.text());
        let page = answer.json();
        assert_eq!(page["loyal_customers_count"], 142);
        walked.extend(page["loyal_customers"].as_array().unwrap().iter().cloned());
        let Some(cursor) = page.get("next_cursor").and_then(Value::as_str) else {
            break;
        };
        let link = answer
            .header("link")
            .expect("a Link header with the next page")
            .to_owned();
        assert_eq!(
            link,
            format!("</analytics/loyal-customers?limit=50&cursor={cursor}>; rel=\"next\"")
        );
        path = link
            .trim_start_matches('<')
            .split('>')
            .next()
            .unwrap()
            .to_owned();
    }
    assert_eq!(
        Value::Array(walked),
        everyone,
        "the pages are the whole list, in order"
    );

    let mut customers = Vec::new();
    let mut path = "/cash-register/customers?limit=7".to_owned();
    for _ in 0..3 {
        let answer = get(&api, &path).await;
        customers.extend(answer.json().as_array().unwrap().iter().cloned());
        let cursor = answer
            .header(icash::http::NEXT_CURSOR)
            .expect("the next cursor");
        path = format!("/cash-register/customers?limit=7&cursor={cursor}");
    }
    let first_twenty_one = get(&api, "/cash-register/customers?limit=21").await.json();
    assert_eq!(Value::Array(customers), first_twenty_one);
    let plain = get(&api, "/cash-register/customers").await;
    assert!(
        plain.header("link").is_none(),
        "no paging headers without paging"
    );
}

async fn cors_preflights_and_request_ids(store: SharedStore) {
    let api = api(store);
    let preflight = send(
        &api,
        warp::test::request()
            .method("OPTIONS")
            .path("/cash-register/purchase")
            .header("origin", "https://till.example")
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type, authorization",
            ),
    )
    .await;
    assert_eq!(preflight.status, 200, "{}", preflight.text());
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("https://till.example")
    );
    assert!(
        preflight
            .header("access-control-allow-methods")
            .unwrap()
            .contains("POST")
    );
    assert!(preflight.header("x-request-id").is_some());

    let cross_origin = send(
        &api,
        warp::test::request()
            .path("/health")
            .header("origin", "https://dash.example"),
    )
    .await;
    assert_eq!(
        cross_origin.header("access-control-allow-origin"),
        Some("https://dash.example")
    );
    let refused = send(
        &api,
        warp::test::request()
            .path("/nowhere")
            .header("origin", "https://dash.example"),
    )
    .await;
    assert_eq!(refused.status, 404);
    assert_eq!(
        refused.header("access-control-allow-origin"),
        Some("https://dash.example"),
        "errors carry CORS too"
    );

    let echoed = send(
        &api,
        warp::test::request()
            .path("/health")
            .header("x-request-id", "till-7.req-42"),
    )
    .await;
    assert_eq!(echoed.header("x-request-id"), Some("till-7.req-42"));
    let replaced = send(
        &api,
        warp::test::request()
            .path("/health")
            .header("x-request-id", "<script>"),
    )
    .await;
    let id = replaced.header("x-request-id").unwrap();
    assert!(
        id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "a hostile id is replaced: {id}"
    );
    assert!(
        get(&api, "/nowhere").await.header("x-request-id").is_some(),
        "refusals carry an id too"
    );

    let only = icash::http::api(
        Arc::new(MemoryStore::new()),
        ApiConfig {
            cors: icash::http::Cors::Origins(vec!["https://till.example".into()]),
            ..ApiConfig::default()
        },
    );
    let foreign = send(
        &only,
        warp::test::request()
            .method("OPTIONS")
            .path("/health")
            .header("origin", "https://evil.example")
            .header("access-control-request-method", "GET"),
    )
    .await;
    assert_eq!(foreign.status, 403);
    assert!(foreign.error().contains("CORS"));
}

/// A store whose database does not answer: every request gets 503 quickly, and health says
/// degraded.
#[tokio::test]
async fn an_unreachable_database_gets_503_and_degraded_health() {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_millis(500))
        .connect_lazy("postgres://postgres@127.0.0.1:9/icash")
        .unwrap();
    let api = icash::http::api(
        Arc::new(icash::postgres::PgStore::from_pool(pool)),
        ApiConfig::default(),
    );
    let started = std::time::Instant::now();
    let health = get(&api, "/health").await;
    assert_eq!(health.status, 503);
    assert_eq!(
        health.json(),
        json!({
            "status": "degraded",
            "database": "down",
            "services": {"cash_register": "unhealthy", "analytics": "unhealthy"},
        })
    );
    let ready = get(&api, "/readyz").await;
    assert_eq!(ready.status, 503);
    assert_eq!(
        ready.json()["error"],
        "not ready: the database does not answer"
    );
    assert_eq!(get(&api, "/livez").await.status, 200);
    for path in [
        "/analytics/statistics",
        "/cash-register/products",
        "/dashboard",
    ] {
        let answer = get(&api, path).await;
        assert_eq!(answer.status, 503, "{path}");
        assert_eq!(
            answer.error(),
            "the database is unavailable; please retry shortly"
        );
    }
    let purchase = post_json(
        &api,
        r#"{"supermarket_id": 1, "user_id": "new", "items": [{"product_id": 1}]}"#,
    )
    .await;
    assert_eq!(purchase.status, 503);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "answers within a bounded time"
    );
}

/// An unexpected database failure is a 500 whose body says nothing of SQL or the driver.
#[tokio::test]
async fn an_internal_failure_is_a_500_without_details() {
    let db = TestDb::new().await;
    load_dir(db.store(), &data_dir(), Policy::Strict)
        .await
        .expect("the data files load");
    sqlx::query("DROP TABLE product_totals")
        .execute(db.pool())
        .await
        .unwrap();
    let api = api(Arc::new(db.store().clone()));
    let answer = get(&api, "/analytics/top-products").await;
    assert_eq!(answer.status, 500);
    assert_eq!(
        answer.error(),
        "an internal error occurred; it has been logged"
    );
    for secret in ["product_totals", "relation", "SELECT", "postgres", "sqlx"] {
        assert!(
            !answer.text().contains(secret),
            "the body leaks {secret:?}: {}",
            answer.text()
        );
    }
}

/// Money that adds up wrong in floats is written exactly in every JSON figure.
#[tokio::test]
async fn money_is_a_json_number_computed_exactly() {
    let store = Arc::new(MemoryStore::new());
    put_catalog(store.as_ref()).await;
    let api = api(store.clone());
    for _ in 0..10 {
        let answer = post_json(&api, r#"{"supermarket_id": 2, "user_id": "01e1e159-8045-43c2-88dd-5682b18bd680", "items": [{"product_id": 4}, {"product_id": 5}]}"#).await;
        assert_eq!(answer.status, 201);
    }
    let statistics = get(&api, "/analytics/statistics").await;
    assert!(
        statistics.text().contains("\"total_revenue\":3.0"),
        "{}",
        statistics.text()
    );
    let loyal = get(&api, "/analytics/loyal-customers").await.json();
    assert_eq!(loyal["loyal_customers"][0]["total_spent"], json!(3.0));
    assert_eq!(Money::from_cents(300).to_f64(), 3.0);
}
