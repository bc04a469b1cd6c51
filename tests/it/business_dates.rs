//! Business dates over HTTP, on both stores: `date`, `from_date` and `to_date` on the analytics
//! and the dashboard, each branch's day in its own zone, and every mix of dates and instants
//! refused with a sentence that says why.

use icash::core::{Branch, BranchId, CustomerRef, NewPurchase, Origin, ProductId, Store};
use icash::http::SharedStore;

use crate::api::{api, get};
use crate::http::put_catalog;
use crate::support::on_both_stores;

on_both_stores!(
    each_branch_counts_its_own_business_day,
    dates_mixed_with_instants_are_refused_with_a_sentence,
);

async fn sell(store: &dyn Store, branch: i32, at: &str) {
    let purchase = NewPurchase::new(
        BranchId::new(branch).unwrap(),
        CustomerRef::New,
        vec![ProductId::new(1).unwrap()],
        at.parse().unwrap(),
    )
    .unwrap();
    store.record_purchase(purchase).await.unwrap();
}

async fn set_zone(store: &dyn Store, branch: i32, zone: &str, start: &str) {
    let id = BranchId::new(branch).unwrap();
    let settings = Branch::with_settings(
        id,
        &id.code(),
        zone.parse().unwrap(),
        start.parse().unwrap(),
    )
    .unwrap();
    store
        .update_branch(&settings, &Origin::system())
        .await
        .unwrap();
}

async fn each_branch_counts_its_own_business_day(store: SharedStore) {
    put_catalog(store.as_ref()).await;
    // Branch 1 in UTC; branch 2 in Kathmandu (+05:45) from 04:00; branch 3 in New York, where
    // 2025-11-02 lasted 25 hours.
    set_zone(store.as_ref(), 2, "Asia/Kathmandu", "04:00").await;
    set_zone(store.as_ref(), 3, "America/New_York", "00:00").await;
    for (branch, at) in [
        (1, "2025-05-01T00:00:00Z"), // 1's 1 May
        (1, "2025-04-30T23:59:59Z"), // 1's 30 April
        (2, "2025-04-30T22:15:00Z"), // 04:00 on 1 May in Kathmandu: 2's 1 May
        (2, "2025-04-30T22:14:59Z"), // 03:59: still 2's 30 April
        (2, "2025-05-01T22:14:00Z"), // 03:59 on 2 May: 2's 1 May
        (3, "2025-11-02T04:00:00Z"), // midnight EDT: 3's 2 November
        (3, "2025-11-03T04:59:59Z"), // 23:59:59 EST: still 3's 2 November
        (3, "2025-11-03T05:00:00Z"), // 3's 3 November
    ] {
        sell(store.as_ref(), branch, at).await;
    }
    let api = api(store.clone());
    let purchases = |path: String| {
        let api = api.clone();
        async move {
            let answer = get(&api, &path).await;
            assert_eq!(answer.status, 200, "{path}: {}", answer.text());
            answer.json()
        }
    };
    let may_day = purchases("/analytics/statistics?date=2025-05-01".into()).await;
    assert_eq!(may_day["total_purchases"], 3, "{may_day}");
    assert_eq!(may_day["by_supermarket"][0]["purchase_count"], 1);
    assert_eq!(may_day["by_supermarket"][1]["purchase_count"], 2);
    assert_eq!(may_day["unique_customers"], 3);
    let branch_2 = purchases("/analytics/statistics?supermarket_id=2&date=2025-05-01".into()).await;
    assert_eq!(branch_2["total_purchases"], 2);
    let long_day = purchases(
        "/analytics/statistics?supermarket_id=3&from_date=2025-11-02&to_date=2025-11-02".into(),
    )
    .await;
    assert_eq!(long_day["total_purchases"], 2, "the 25-hour day");
    let open_ended = purchases("/analytics/statistics?from_date=2025-11-03".into()).await;
    assert_eq!(open_ended["total_purchases"], 1);
    let until = purchases("/analytics/statistics?to_date=2025-04-30".into()).await;
    assert_eq!(until["total_purchases"], 2);

    let unique = purchases("/analytics/unique-customers?date=2025-05-01".into()).await;
    assert_eq!(unique["unique_customers"], 3);
    let top = purchases("/analytics/top-products?date=2025-05-01".into()).await;
    assert_eq!(top["top_products"][0]["units_sold"], 3);
    let loyal =
        purchases("/analytics/loyal-customers?min_purchases=1&date=2025-05-01".into()).await;
    assert_eq!(loyal["loyal_customers_count"], 3);
    let page =
        purchases("/analytics/loyal-customers?min_purchases=1&date=2025-05-01&limit=2".into())
            .await;
    assert_eq!(page["loyal_customers"].as_array().unwrap().len(), 2);
    assert!(page["next_cursor"].is_string());
    let dashboard = purchases("/dashboard?date=2025-05-01".into()).await;
    assert_eq!(dashboard["statistics"], may_day);
    assert_eq!(dashboard["unique_customers"], 3);
}

async fn dates_mixed_with_instants_are_refused_with_a_sentence(store: SharedStore) {
    let api = api(store);
    for (query, sentence) in [
        (
            "date=2025-05-01&from=2025-05-01T00:00:00Z",
            "`date`, `from_date` and `to_date` name business days, and `from` and `to` instants: give one or the other, not both",
        ),
        (
            "from_date=2025-05-01&to=2025-06-01T00:00:00Z",
            "`date`, `from_date` and `to_date` name business days",
        ),
        (
            "date=2025-05-01&to_date=2025-05-02",
            "`date` is one business day: give it alone, or `from_date` and `to_date` instead",
        ),
        (
            "from_date=2025-05-02&to_date=2025-05-01",
            "the dates are empty: `to_date` must not be before `from_date`",
        ),
        (
            "date=2025-13-01",
            "query parameter `date` must be a date written YYYY-MM-DD",
        ),
        (
            "from_date=2025-5-1",
            "query parameter `from_date` must be a date written YYYY-MM-DD",
        ),
        (
            "to_date=2025-05-01T00:00:00Z",
            "query parameter `to_date` must be a date written YYYY-MM-DD",
        ),
    ] {
        for path in [
            "/analytics/statistics",
            "/analytics/unique-customers",
            "/analytics/loyal-customers",
            "/analytics/top-products",
            "/dashboard",
        ] {
            let answer = get(&api, &format!("{path}?{query}")).await;
            assert_eq!(answer.status, 400, "{path}?{query}");
            assert!(
                answer.error().starts_with(sentence),
                "{path}?{query}: {}",
                answer.error()
            );
        }
    }
}
