//! Many tills at once on PostgreSQL: nothing is lost, doubled or mixed up, and every analytic
//! equals a recomputation from the acknowledged purchases' lines.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::Utc;
use futures::future::join_all;
use icash::core::import::Policy;
use icash::core::{BranchId, CustomerRef, Filter, MemoryStore, NewPurchase, ProductId, Store};
use icash::postgres::testing::TestDb;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::api::{Api, api, send};
use crate::http::put_catalog;

const TILLS: u64 = 16;
const PURCHASES_PER_TILL: usize = 25;

async fn call(api: &Api, method: &str, path: &str, body: Option<String>) -> (u16, Value) {
    let mut request = warp::test::request().method(method).path(path);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body);
    }
    let answer = send(api, request).await;
    (answer.status, answer.json())
}

fn decimal(value: &Value) -> Decimal {
    value.to_string().parse().unwrap()
}

/// One till: purchases for a few customers of its own and some shared ones, random baskets.
async fn till(api: &Api, till: u64) -> Vec<Value> {
    let mut rng = ChaCha8Rng::seed_from_u64(till);
    let mut acknowledged = Vec::new();
    for n in 0..PURCHASES_PER_TILL {
        let customer = format!(
            "00000000-0000-4000-8000-{:012}",
            if n % 3 == 0 {
                n as u64 % 5
            } else {
                100 + till * 10 + rng.random_range(0..4)
            }
        );
        let mut products: Vec<u32> = (1..=30).collect();
        let basket: Vec<Value> = (0..rng.random_range(1..=5))
            .map(|_| json!({"product_id": products.swap_remove(rng.random_range(0..products.len()))}))
            .collect();
        let body = json!({"supermarket_id": rng.random_range(1..=3), "user_id": customer, "items": basket});
        let (status, answer) = call(
            api,
            "POST",
            "/cash-register/purchase",
            Some(body.to_string()),
        )
        .await;
        assert_eq!(status, 201, "{answer}");
        assert_eq!(
            answer["user_id"], body["user_id"],
            "the purchase is the till's own"
        );
        let sent: Vec<&Value> = body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| &i["product_id"])
            .collect();
        let got: Vec<&Value> = answer["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| &i["product_id"])
            .collect();
        assert_eq!(sent, got, "the lines are the till's own, in its order");
        acknowledged.push(answer);
    }
    acknowledged
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_tills_at_once_lose_nothing_and_analytics_match_a_recomputation() {
    let db = TestDb::new().await;
    icash::data::load_dir(db.store(), &crate::support::data_dir(), Policy::Strict)
        .await
        .unwrap();
    // Start from the sample data: the recomputation covers it through the store's own figures.
    let api = api(Arc::new(db.store().clone()));
    let (_, before) = call(&api, "GET", "/analytics/statistics", None).await;

    let acknowledged: Vec<Value> = join_all((0..TILLS).map(|n| till(&api, n)))
        .await
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(acknowledged.len(), TILLS as usize * PURCHASES_PER_TILL);
    let ids: HashSet<&Value> = acknowledged.iter().map(|p| &p["purchase_id"]).collect();
    assert_eq!(
        ids.len(),
        acknowledged.len(),
        "every purchase has its own id"
    );
    for purchase in &acknowledged {
        let (status, receipt) = call(
            &api,
            "GET",
            &format!("/cash-register/purchases/{}", purchase["purchase_id"]),
            None,
        )
        .await;
        assert_eq!(
            (status, &receipt),
            (200, &crate::support::untouched_receipt(purchase)),
            "stored exactly as acknowledged"
        );
        let lines: Decimal = receipt["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| decimal(&i["price"]))
            .sum();
        assert_eq!(
            lines,
            decimal(&receipt["total_amount"]),
            "the total is the sum of the lines"
        );
    }

    // The figures now must be the sample's plus exactly what the tills were acknowledged.
    let (_, after) = call(&api, "GET", "/analytics/statistics", None).await;
    let new_revenue: Decimal = acknowledged
        .iter()
        .map(|p| decimal(&p["total_amount"]))
        .sum();
    assert_eq!(
        after["total_purchases"].as_u64().unwrap(),
        before["total_purchases"].as_u64().unwrap() + acknowledged.len() as u64
    );
    assert_eq!(
        decimal(&after["total_revenue"]),
        decimal(&before["total_revenue"]) + new_revenue
    );
    for (branch, (count, revenue)) in per_branch(&acknowledged) {
        let index = branch as usize - 1;
        let (old, new) = (
            &before["by_supermarket"][index],
            &after["by_supermarket"][index],
        );
        assert_eq!(
            new["purchase_count"].as_u64().unwrap(),
            old["purchase_count"].as_u64().unwrap() + count
        );
        assert_eq!(decimal(&new["revenue"]), decimal(&old["revenue"]) + revenue);
    }

    // The monthly, daily and hourly aggregates were kept by the same concurrent triggers: a
    // period spanning every purchase reads them (whole months) and must add up to the same.
    let period = "from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z";
    let (status, over_period) = call(
        &api,
        "GET",
        &format!("/analytics/statistics?{period}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{over_period}");
    for field in [
        "total_purchases",
        "total_revenue",
        "unique_customers",
        "by_supermarket",
    ] {
        assert_eq!(over_period[field], after[field], "{field} over the period");
    }
    let (_, top_all) = call(&api, "GET", "/analytics/top-products?max_rank=30", None).await;
    let (_, top_period) = call(
        &api,
        "GET",
        &format!("/analytics/top-products?max_rank=30&{period}"),
        None,
    )
    .await;
    assert_eq!(top_period["top_products"], top_all["top_products"]);

    // A full recomputation from every purchase line in the database, by an independent query.
    let units: Vec<(i32, i64)> = sqlx::query_as(
        "SELECT product_id, count(*) FROM purchase_lines GROUP BY product_id ORDER BY product_id",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    let units: HashMap<i32, i64> = units.into_iter().collect();
    let (_, top) = call(&api, "GET", "/analytics/top-products?max_rank=30", None).await;
    for product in top["top_products"].as_array().unwrap() {
        let id = product["product_id"].as_i64().unwrap() as i32;
        assert_eq!(
            product["units_sold"].as_i64().unwrap(),
            units[&id],
            "units of product {id}"
        );
    }
    let line_revenue: Decimal = sqlx::query_scalar("SELECT sum(unit_price) FROM purchase_lines")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(
        decimal(&after["total_revenue"]),
        line_revenue,
        "revenue is the sum of every line"
    );
    let customers: i64 = sqlx::query_scalar("SELECT count(DISTINCT customer_id) FROM purchases")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(after["unique_customers"].as_i64().unwrap(), customers);
    let (_, loyal) = call(&api, "GET", "/analytics/loyal-customers", None).await;
    let loyal_count: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT customer_id FROM purchases GROUP BY customer_id HAVING count(*) >= 3) AS loyal",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert_eq!(
        loyal["loyal_customers_count"].as_i64().unwrap(),
        loyal_count
    );
}

fn per_branch(purchases: &[Value]) -> BTreeMap<u64, (u64, Decimal)> {
    let mut branches = BTreeMap::new();
    for purchase in purchases {
        let entry = branches
            .entry(purchase["supermarket_id"].as_u64().unwrap())
            .or_insert((0, Decimal::ZERO));
        entry.0 += 1;
        entry.1 += decimal(&purchase["total_amount"]);
    }
    branches
}

/// Tills selling one product while the dashboard is read, again and again: every dashboard's
/// parts come from the same purchases, so the product's units always equal the purchase count.
async fn dashboard_parts_agree_while_tills_sell(store: Arc<dyn Store>) {
    put_catalog(store.as_ref()).await;
    let tills: Vec<_> = (0..4)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                for _ in 0..40 {
                    let purchase = NewPurchase::new(
                        BranchId::new(1).unwrap(),
                        CustomerRef::New,
                        vec![ProductId::new(2).unwrap()],
                        Utc::now(),
                    )
                    .unwrap();
                    store.record_purchase(purchase).await.unwrap();
                }
            })
        })
        .collect();
    let mut read = 0;
    while read < 3 || !tills.iter().all(|till| till.is_finished()) {
        let dashboard = store.dashboard(&Filter::ALL).await.unwrap();
        let units: u64 = dashboard
            .top_products
            .iter()
            .map(|p| p.sales.units_sold)
            .sum();
        assert_eq!(
            units, dashboard.statistics.total_purchases,
            "the top products and the statistics saw different purchases: {dashboard:?}"
        );
        assert_eq!(
            dashboard.unique_customers,
            dashboard.statistics.total_purchases
        );
        read += 1;
    }
    join_all(tills).await;
    let last = store.dashboard(&Filter::ALL).await.unwrap();
    assert_eq!(last.statistics.total_purchases, 160);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dashboard_parts_agree_while_tills_sell_on_postgres() {
    let db = TestDb::new().await;
    dashboard_parts_agree_while_tills_sell(Arc::new(db.store().clone())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dashboard_parts_agree_while_tills_sell_in_memory() {
    dashboard_parts_agree_while_tills_sell(Arc::new(MemoryStore::new())).await;
}
