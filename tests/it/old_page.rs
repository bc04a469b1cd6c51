//! The old system's page against a server run with `ICASH_AUTH=off`: a browser page opened
//! from another origin, with no credentials, that preflights its purchase, records it, and
//! reads the catalog, the customers, the dashboard and every analytic, each answer in the shape
//! the page reads and with the CORS headers a browser requires to hand it over.

use serde_json::Value;

use icash::postgres::testing::TestDb;

use crate::harness::{Client, Server};
use crate::support::data_dir;

/// Where the page is served from: another origin than the API's.
const PAGE: &str = "http://pos.example:8080";

/// A request from the page, as the page sees its answer: allowed by CORS for the page's origin,
/// and JSON.
fn read(client: &Client, method: &str, path: &str, body: Option<&str>, status: u16) -> Value {
    let reply = client
        .request_with(method, path, body, &[("origin", PAGE)])
        .unwrap();
    assert_eq!(reply.status, status, "{method} {path}: {}", reply.body);
    let allowed = reply
        .headers
        .get("access-control-allow-origin")
        .and_then(|value| value.to_str().ok());
    assert!(
        allowed == Some(PAGE) || allowed == Some("*"),
        "{method} {path}: a browser hands the page this answer ({allowed:?})"
    );
    reply.json()
}

fn is_money(value: &Value) -> bool {
    value.is_number() && (value.as_f64().unwrap() * 100.0).fract().abs() < 1e-6
}

#[test]
fn the_old_systems_page_works_against_a_server_run_open() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(TestDb::new());
    let server = Server::start_with(Some(&db.url()), &data_dir(), &[("ICASH_AUTH", "off")]);
    let page = server.client();

    // The purchase is JSON, so the browser asks first.
    let preflight = page
        .request_with(
            "OPTIONS",
            "/cash-register/purchase",
            None,
            &[
                ("origin", PAGE),
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", "content-type"),
            ],
        )
        .unwrap();
    assert_eq!(preflight.status, 200, "{}", preflight.body);
    let allowed_headers = preflight.headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        allowed_headers.contains("content-type"),
        "{allowed_headers}"
    );

    let index = read(&page, "GET", "/", None, 200);
    assert_eq!(
        index["endpoints"]["cash_register"]["purchase"],
        "POST /cash-register/purchase"
    );
    assert_eq!(
        read(&page, "GET", "/health", None, 200)["status"],
        "healthy"
    );

    let products = read(&page, "GET", "/cash-register/products", None, 200);
    let products = products.as_array().expect("a list of products");
    assert!(!products.is_empty());
    assert!(
        products
            .iter()
            .all(|p| p["id"].is_u64() && p["name"].is_string() && is_money(&p["price"]))
    );

    let purchase = r#"{"supermarket_id": 1, "user_id": "new", "items": [{"product_id": 1}, {"product_id": 2}]}"#;
    let receipt = read(
        &page,
        "POST",
        "/cash-register/purchase",
        Some(purchase),
        201,
    );
    assert!(receipt["purchase_id"].is_u64(), "{receipt}");
    assert!(
        receipt["user_id"].as_str().is_some_and(|id| id.len() == 36),
        "{receipt}"
    );
    let expected_total =
        products[0]["price"].as_f64().unwrap() + products[1]["price"].as_f64().unwrap();
    assert!((receipt["total_amount"].as_f64().unwrap() - expected_total).abs() < 1e-9);
    assert_eq!(receipt["items"].as_array().unwrap().len(), 2);

    let customers = read(&page, "GET", "/cash-register/customers", None, 200);
    assert!(
        customers
            .as_array()
            .is_some_and(|c| !c.is_empty() && c.len() <= 20)
    );

    let dashboard = read(&page, "GET", "/dashboard", None, 200);
    for part in [
        "unique_customers",
        "loyal_customers_count",
        "loyal_customers",
        "top_products",
        "statistics",
    ] {
        assert!(
            !dashboard[part].is_null(),
            "the dashboard has {part}: {dashboard}"
        );
    }
    let statistics = read(&page, "GET", "/analytics/statistics", None, 200);
    assert_eq!(
        dashboard["statistics"], statistics,
        "the dashboard's statistics are the endpoint's"
    );
    assert!(is_money(&statistics["total_revenue"]), "{statistics}");
    let unique = read(&page, "GET", "/analytics/unique-customers", None, 200);
    assert_eq!(unique["unique_customers"], statistics["unique_customers"]);
    let loyal = read(&page, "GET", "/analytics/loyal-customers", None, 200);
    assert_eq!(
        loyal["loyal_customers_count"],
        dashboard["loyal_customers_count"]
    );
    let top = read(&page, "GET", "/analytics/top-products", None, 200);
    assert_eq!(top["top_products"], dashboard["top_products"]);
    server.stop();
}
