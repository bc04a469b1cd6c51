//! CSV exports over HTTP, on both stores: each analytic list, asked with `format=csv` or
//! `Accept: text/csv`, parses back into the same entries as its JSON, with a header row, money
//! to two decimals, instants in ISO 8601 and a file name that says what and when.

use icash::core::{BranchId, CustomerId, CustomerRef, NewPurchase, ProductId, Store};
use icash::http::SharedStore;
use serde_json::Value;

use crate::api::{Answer, api, get, request_with_key, send};
use crate::http::put_catalog;
use crate::support::on_both_stores;

on_both_stores!(
    every_list_round_trips_through_csv,
    json_stays_the_default_and_a_bad_format_is_refused,
);

/// Sales over a few days by enough customers that the whole loyal list as CSV is sent in more
/// than one chunk, and with ties and repeats.
async fn sell(store: &dyn Store) {
    put_catalog(store).await;
    for n in 0..800u128 {
        let customer = CustomerId::from_uuid(uuid::Uuid::from_u128(n % 650 + 1));
        let items: Vec<ProductId> = (1..=(n % 4 + 1) as i32)
            .map(|id| ProductId::new(id).unwrap())
            .collect();
        let at = "2025-05-01T08:00:00Z"
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
            + chrono::Duration::minutes(7 * n as i64);
        let branch = BranchId::new((n % 3 + 1) as i32).unwrap();
        let purchase = NewPurchase::new(branch, CustomerRef::Known(customer), items, at).unwrap();
        store.record_purchase(purchase).await.unwrap();
    }
}

/// The CSV body's rows, its header first.
pub(crate) fn parse_csv(answer: &Answer) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_reader(answer.text().as_bytes());
    let header = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|record| record.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

fn csv_answer(answer: &Answer, name_starts: &str) {
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(
        answer.header("content-type"),
        Some("text/csv; charset=utf-8")
    );
    let disposition = answer.header("content-disposition").unwrap_or_default();
    assert!(
        disposition.starts_with(&format!("attachment; filename=\"{name_starts}")),
        "{disposition}"
    );
    assert!(disposition.ends_with(".csv\""), "{disposition}");
}

/// A JSON amount as CSV writes it.
pub(crate) fn two_decimals(value: &Value) -> String {
    format!("{:.2}", value.as_f64().unwrap())
}

/// A JSON instant as CSV writes it (both ISO 8601, in UTC).
fn same_instant(json: &Value, csv: &str) {
    let json: chrono::DateTime<chrono::Utc> = json.as_str().unwrap().parse().unwrap();
    let csv: chrono::DateTime<chrono::Utc> = csv.parse().unwrap();
    assert_eq!(json, csv);
}

async fn every_list_round_trips_through_csv(store: SharedStore) {
    sell(store.as_ref()).await;
    let api = api(store.clone());

    for (query, name) in [
        ("min_purchases=1", "loyal-customers_as-of_"),
        ("min_purchases=2&limit=3", "loyal-customers_as-of_"),
        (
            "min_purchases=1&supermarket_id=2&date=2025-05-02",
            "loyal-customers_branch-2_2025-05-02.csv",
        ),
        (
            "min_purchases=1&from_date=2025-05-01&to_date=2025-05-02",
            "loyal-customers_2025-05-01_to_2025-05-02.csv",
        ),
    ] {
        let json = get(&api, &format!("/analytics/loyal-customers?{query}"))
            .await
            .json();
        let csv = get(
            &api,
            &format!("/analytics/loyal-customers?{query}&format=csv"),
        )
        .await;
        csv_answer(&csv, name);
        let (header, rows) = parse_csv(&csv);
        assert_eq!(
            header,
            [
                "user_id",
                "purchase_count",
                "total_spent",
                "first_purchase",
                "last_purchase"
            ]
        );
        let entries = json["loyal_customers"].as_array().unwrap();
        assert!(!entries.is_empty(), "{query}");
        assert_eq!(rows.len(), entries.len(), "{query}");
        for (row, entry) in rows.iter().zip(entries) {
            assert_eq!(row[0], entry["user_id"].as_str().unwrap());
            assert_eq!(row[1], entry["purchase_count"].to_string());
            assert_eq!(row[2], two_decimals(&entry["total_spent"]));
            assert!(
                row[2]
                    .split('.')
                    .nth(1)
                    .is_some_and(|cents| cents.len() == 2)
            );
            same_instant(&entry["first_purchase"], &row[3]);
            same_instant(&entry["last_purchase"], &row[4]);
        }
        if query.contains("limit") {
            assert!(csv.header("link").is_some(), "a CSV page links to the next");
        }
    }

    let json = get(&api, "/analytics/top-products?max_rank=10")
        .await
        .json();
    let csv = send(
        &api,
        request_with_key("GET", "/analytics/top-products?max_rank=10", None)
            .header("accept", "text/csv"),
    )
    .await;
    csv_answer(&csv, "top-products_as-of_");
    let (header, rows) = parse_csv(&csv);
    assert_eq!(header, ["rank", "product_id", "product_name", "units_sold"]);
    let ranked = json["top_products"].as_array().unwrap();
    assert_eq!(rows.len(), ranked.len());
    for (row, product) in rows.iter().zip(ranked) {
        assert_eq!(row[0], product["rank"].to_string());
        assert_eq!(row[1], product["product_id"].to_string());
        assert_eq!(row[2], product["product_name"].as_str().unwrap());
        assert_eq!(row[3], product["units_sold"].to_string());
    }

    let json = get(&api, "/cash-register/customers?limit=5").await.json();
    let csv = get(&api, "/cash-register/customers?limit=5&format=csv").await;
    csv_answer(&csv, "customers_as-of_");
    let (header, rows) = parse_csv(&csv);
    assert_eq!(header, ["user_id", "purchase_count"]);
    let customers = json.as_array().unwrap();
    assert_eq!(rows.len(), customers.len());
    for (row, customer) in rows.iter().zip(customers) {
        assert_eq!(row[0], customer["user_id"].as_str().unwrap());
        assert_eq!(row[1], customer["purchase_count"].to_string());
    }

    // An empty list is its header alone.
    let empty = get(
        &api,
        "/analytics/loyal-customers?format=csv&date=2030-01-01",
    )
    .await;
    assert_eq!(
        empty.text(),
        "user_id,purchase_count,total_spent,first_purchase,last_purchase\n"
    );
}

async fn json_stays_the_default_and_a_bad_format_is_refused(store: SharedStore) {
    sell(store.as_ref()).await;
    let api = api(store);
    for accept in [
        None,
        Some("*/*"),
        Some("application/json, text/csv"),
        Some("text/html"),
    ] {
        let request = request_with_key("GET", "/analytics/top-products", None);
        let request = match accept {
            Some(accept) => request.header("accept", accept),
            None => request,
        };
        let answer = send(&api, request).await;
        assert_eq!(answer.status, 200);
        assert_eq!(
            answer.header("content-type"),
            Some("application/json"),
            "{accept:?}"
        );
    }
    let preferred = send(
        &api,
        request_with_key("GET", "/cash-register/customers", None)
            .header("accept", "text/csv;q=1, application/json;q=0.5"),
    )
    .await;
    assert_eq!(
        preferred.header("content-type"),
        Some("text/csv; charset=utf-8")
    );
    let refused = get(&api, "/analytics/loyal-customers?format=xml").await;
    assert_eq!(refused.status, 400);
    assert_eq!(
        refused.error(),
        "query parameter `format` must be csv or json, not \"xml\""
    );
}
