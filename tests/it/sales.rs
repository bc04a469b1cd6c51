//! Sales over time and the day's report over HTTP, on both stores: each adds up to the
//! statistics of its dates, a branch's new zone (set with `PUT /branches`) reckons its series
//! anew, the CSV exports parse back into the JSON, and bad queries are refused with a sentence.

use icash::core::{
    BranchId, CustomerRef, KeyName, NewPurchase, NewRefund, NewVoid, Origin, ProductId, Store,
    VoidReason,
};
use icash::http::SharedStore;
use serde_json::{Value, json};

use crate::api::{Answer, Api, api, get, request_with_key, send};
use crate::export::{parse_csv, two_decimals};
use crate::http::put_catalog;
use crate::support::on_both_stores;

on_both_stores!(
    the_series_and_the_report_add_up_to_the_statistics,
    a_new_zone_reckons_the_series_anew,
    the_series_and_the_reports_lines_round_trip_through_csv,
    bad_series_and_report_queries_are_refused_with_a_sentence,
);

/// A purchase of products 1 and 2 at `branch` at `at`, recorded by `till` if any.
async fn sell(store: &dyn Store, branch: i32, at: &str, till: Option<&str>) -> i64 {
    let purchase = NewPurchase::new(
        BranchId::new(branch).unwrap(),
        CustomerRef::New,
        vec![ProductId::new(1).unwrap(), ProductId::new(2).unwrap()],
        at.parse().unwrap(),
    )
    .unwrap()
    .recorded_by(till.map(|name| KeyName::new(name).unwrap()));
    store.record_purchase(purchase).await.unwrap().id().get()
}

/// Sales over the first days of November 2025 at the three branches, New York's 2 November
/// lasting 25 hours, with a refund and a void.
async fn sell_around_november(store: &dyn Store, api: &Api) {
    put_catalog(store).await;
    for (branch, zone, start) in [
        (1, "UTC", "00:00"),
        (2, "America/New_York", "00:00"),
        (3, "Asia/Kolkata", "04:00"),
    ] {
        let settings =
            json!({"name": format!("b{branch}"), "time_zone": zone, "day_starts_at": start});
        let answer = put(api, &format!("/branches/{branch}"), settings).await;
        assert_eq!(answer.status, 200, "{}", answer.text());
    }
    let mut first = None;
    for hour in 0..96 {
        let at = chrono::DateTime::parse_from_rfc3339("2025-11-01T00:20:00Z").unwrap()
            + chrono::Duration::minutes(47 * hour);
        let at = at.to_rfc3339();
        let till = ["till-a", "till-b"].get(hour as usize / 3 % 3).copied();
        let id = sell(store, (hour % 3 + 1) as i32, &at, till).await;
        first.get_or_insert(id);
    }
    let first = icash::core::PurchaseId::new(first.unwrap()).unwrap();
    let refund = NewRefund::new(first, None, "2025-11-02T15:00:00Z".parse().unwrap()).unwrap();
    store
        .refund(&refund, None, &Origin::system())
        .await
        .unwrap();
    // 01:49 on 1 November in New York.
    let voided = icash::core::PurchaseId::new(first.get() + 7).unwrap();
    let void = NewVoid::new(
        voided,
        VoidReason::new("twice").unwrap(),
        chrono::Utc::now(),
    );
    store.void(&void, &Origin::system()).await.unwrap();
}

async fn put(api: &Api, path: &str, body: Value) -> Answer {
    let request = request_with_key("PUT", path, None)
        .header("content-type", "application/json")
        .body(body.to_string());
    send(api, request).await
}

async fn ok(api: &Api, path: &str) -> Value {
    let answer = get(api, path).await;
    assert_eq!(answer.status, 200, "{path}: {}", answer.text());
    answer.json()
}

fn cents(value: &Value) -> i64 {
    (value.as_f64().unwrap() * 100.0).round() as i64
}

/// Checks that `series` adds up to `statistics`.
fn adds_up(series: &Value, statistics: &Value, what: &str) {
    let points = series.as_array().unwrap();
    let sum = |field: &str| points.iter().map(|p| cents(&p[field])).sum::<i64>();
    let purchases: u64 = points
        .iter()
        .map(|p| p["purchases"].as_u64().unwrap())
        .sum();
    assert_eq!(
        purchases,
        statistics["total_purchases"].as_u64().unwrap(),
        "{what}"
    );
    assert_eq!(
        sum("revenue"),
        cents(&statistics["total_revenue"]),
        "{what}"
    );
    assert_eq!(
        sum("net_revenue"),
        cents(&statistics["net_revenue"]),
        "{what}"
    );
}

async fn the_series_and_the_report_add_up_to_the_statistics(store: SharedStore) {
    let api = api(store.clone());
    sell_around_november(store.as_ref(), &api).await;
    let dates = "from_date=2025-11-01&to_date=2025-11-03";
    for branch in [
        "",
        "&supermarket_id=1",
        "&supermarket_id=2",
        "&supermarket_id=3",
    ] {
        let statistics = ok(&api, &format!("/analytics/statistics?{dates}{branch}")).await;
        for granularity in ["hour", "day", "week", "month"] {
            let path = format!("/analytics/sales?granularity={granularity}&{dates}{branch}");
            let series = ok(&api, &path).await;
            adds_up(&series, &statistics, &path);
        }
    }
    let days = ok(&api, &format!("/analytics/sales?granularity=day&{dates}")).await;
    let starts: Vec<&str> = days
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["period_start"].as_str().unwrap())
        .collect();
    assert_eq!(starts, ["2025-11-01", "2025-11-02", "2025-11-03"]);
    let weeks = ok(&api, &format!("/analytics/sales?granularity=week&{dates}")).await;
    assert_eq!(
        weeks[0]["period_start"], "2025-10-27",
        "weeks start on Monday"
    );
    assert_eq!(weeks[1]["period_start"], "2025-11-03");
    let hours = ok(
        &api,
        "/analytics/sales?granularity=hour&from_date=2025-11-02&to_date=2025-11-02&supermarket_id=2",
    )
    .await;
    assert_eq!(
        hours.as_array().unwrap().len(),
        24,
        "25 hours, the repeated 01:00 in one entry"
    );
    assert_eq!(hours[1]["period_start"], "2025-11-02T01:00:00");
    let kolkata = ok(
        &api,
        "/analytics/sales?granularity=hour&from_date=2025-11-02&to_date=2025-11-02&supermarket_id=3",
    )
    .await;
    assert_eq!(kolkata[0]["period_start"], "2025-11-02T04:00:00");

    for date in ["2025-11-01", "2025-11-02", "2025-11-03"] {
        let report = ok(
            &api,
            &format!("/analytics/daily-report?supermarket_id=2&date={date}"),
        )
        .await;
        let statistics = ok(
            &api,
            &format!("/analytics/statistics?supermarket_id=2&date={date}"),
        )
        .await;
        assert_eq!(report["purchases"], statistics["total_purchases"], "{date}");
        assert_eq!(report["revenue"], statistics["total_revenue"], "{date}");
        assert_eq!(report["refunds"], statistics["refunds"], "{date}");
        assert_eq!(report["net_revenue"], statistics["net_revenue"], "{date}");
        let hours = report["hours"].as_array().unwrap();
        assert_eq!(hours.len(), if date == "2025-11-02" { 25 } else { 24 });
        let sum =
            |lines: &[Value], field: &str| lines.iter().map(|l| cents(&l[field])).sum::<i64>();
        assert_eq!(
            sum(hours, "purchases"),
            cents(&report["purchases"]),
            "{date}"
        );
        assert_eq!(
            sum(hours, "net_revenue"),
            cents(&report["net_revenue"]),
            "{date}"
        );
        let tills = report["tills"].as_array().unwrap();
        assert_eq!(sum(tills, "revenue"), cents(&report["revenue"]), "{date}");
        let units: u64 = report["products"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["units_sold"].as_u64().unwrap())
            .sum();
        assert_eq!(units, report["units"].as_u64().unwrap(), "{date}");
    }
    let report = ok(
        &api,
        "/analytics/daily-report?supermarket_id=2&date=2025-11-02",
    )
    .await;
    assert_eq!(report["time_zone"], "America/New_York");
    assert_eq!(report["starts_at"], "2025-11-02T04:00:00Z");
    assert_eq!(report["hours"][1]["starts_at"], "2025-11-02T01:00:00-04:00");
    assert_eq!(report["hours"][2]["starts_at"], "2025-11-02T01:00:00-05:00");
    assert_eq!(report["tills"][0]["recorded_by"], Value::Null);
    assert!(report["first_sale"].is_string());
    let empty = ok(
        &api,
        "/analytics/daily-report?supermarket_id=1&date=2025-06-01",
    )
    .await;
    assert_eq!(empty["first_sale"], Value::Null);
    assert_eq!(empty["purchases"], 0);
    assert_eq!(empty["hours"].as_array().unwrap().len(), 24);
    let voids = ok(
        &api,
        "/analytics/daily-report?supermarket_id=2&date=2025-11-01",
    )
    .await;
    assert_eq!(voids["voids"]["count"], 1, "{voids}");
}

async fn a_new_zone_reckons_the_series_anew(store: SharedStore) {
    let api = api(store.clone());
    sell_around_november(store.as_ref(), &api).await;
    let dates = "from_date=2025-10-31&to_date=2025-11-04&supermarket_id=1";
    let before = ok(&api, &format!("/analytics/sales?granularity=day&{dates}")).await;
    let changed = put(
        &api,
        "/branches/1",
        json!({"name": "b1", "time_zone": "Asia/Kathmandu", "day_starts_at": "05:30"}),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.text());
    let after = ok(&api, &format!("/analytics/sales?granularity=day&{dates}")).await;
    assert_ne!(before, after, "the days are cut elsewhere");
    let statistics = ok(&api, &format!("/analytics/statistics?{dates}")).await;
    adds_up(&after, &statistics, "after the change");
    for date in ["2025-10-31", "2025-11-01", "2025-11-02", "2025-11-03"] {
        let day = ok(
            &api,
            &format!("/analytics/statistics?supermarket_id=1&date={date}"),
        )
        .await;
        let point = after
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["period_start"] == date)
            .unwrap();
        assert_eq!(point["purchases"], day["total_purchases"], "{date}");
        assert_eq!(point["net_revenue"], day["net_revenue"], "{date}");
    }
    // Sales after the change count in the new zone's days.
    sell(store.as_ref(), 1, "2025-11-03T18:14:00Z", None).await; // 23:59 in Kathmandu
    let later = ok(&api, &format!("/analytics/sales?granularity=day&{dates}")).await;
    let statistics = ok(
        &api,
        "/analytics/statistics?supermarket_id=1&date=2025-11-03",
    )
    .await;
    assert_eq!(later[3]["purchases"], statistics["total_purchases"]);
}

fn csv_named(answer: &Answer, file: &str) {
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(
        answer.header("content-type"),
        Some("text/csv; charset=utf-8")
    );
    assert_eq!(
        answer.header("content-disposition"),
        Some(format!("attachment; filename=\"{file}\"").as_str())
    );
}

async fn the_series_and_the_reports_lines_round_trip_through_csv(store: SharedStore) {
    let api = api(store.clone());
    sell_around_november(store.as_ref(), &api).await;
    for granularity in ["hour", "day", "week", "month"] {
        let path = format!(
            "/analytics/sales?granularity={granularity}&from_date=2025-11-01&to_date=2025-11-03&supermarket_id=2"
        );
        let json = ok(&api, &path).await;
        let answer = get(&api, &format!("{path}&format=csv")).await;
        csv_named(
            &answer,
            &format!("sales-by-{granularity}_branch-2_2025-11-01_to_2025-11-03.csv"),
        );
        let (header, rows) = parse_csv(&answer);
        assert_eq!(
            header,
            [
                "period_start",
                "purchases",
                "revenue",
                "net_revenue",
                "units"
            ]
        );
        let points = json.as_array().unwrap();
        assert_eq!(rows.len(), points.len(), "{path}");
        for (row, point) in rows.iter().zip(points) {
            assert_eq!(row[0], point["period_start"].as_str().unwrap());
            assert_eq!(row[1], point["purchases"].to_string());
            assert_eq!(row[2], two_decimals(&point["revenue"]));
            assert_eq!(row[3], two_decimals(&point["net_revenue"]));
            assert_eq!(row[4], point["units"].to_string());
        }
    }

    let path = "/analytics/daily-report?supermarket_id=2&date=2025-11-02";
    let report = ok(&api, path).await;
    let products = send(
        &api,
        request_with_key("GET", path, None).header("accept", "text/csv"),
    )
    .await;
    csv_named(&products, "daily-report-products_branch-2_2025-11-02.csv");
    let (header, rows) = parse_csv(&products);
    assert_eq!(
        header,
        ["product_id", "product_name", "units_sold", "units_returned"]
    );
    let lines = report["products"].as_array().unwrap();
    assert_eq!(rows.len(), lines.len());
    for (row, line) in rows.iter().zip(lines) {
        assert_eq!(row[0], line["product_id"].to_string());
        assert_eq!(row[1], line["product_name"].as_str().unwrap());
        assert_eq!(row[2], line["units_sold"].to_string());
        assert_eq!(row[3], line["units_returned"].to_string());
    }

    let hours = get(&api, &format!("{path}&format=csv&lines=hours")).await;
    csv_named(&hours, "daily-report-hours_branch-2_2025-11-02.csv");
    let (header, rows) = parse_csv(&hours);
    assert_eq!(header[0], "starts_at");
    let lines = report["hours"].as_array().unwrap();
    assert_eq!(rows.len(), 25);
    for (row, line) in rows.iter().zip(lines) {
        assert_eq!(row[0], line["starts_at"].as_str().unwrap());
        assert_eq!(row[1], line["purchases"].to_string());
        assert_eq!(row[2], two_decimals(&line["revenue"]));
        assert_eq!(row[6], two_decimals(&line["net_revenue"]));
    }

    let tills = get(&api, &format!("{path}&format=csv&lines=tills")).await;
    csv_named(&tills, "daily-report-tills_branch-2_2025-11-02.csv");
    let (header, rows) = parse_csv(&tills);
    assert_eq!(
        header,
        [
            "recorded_by",
            "purchases",
            "revenue",
            "units",
            "first_sale",
            "last_sale"
        ]
    );
    let lines = report["tills"].as_array().unwrap();
    assert_eq!(rows.len(), lines.len());
    for (row, line) in rows.iter().zip(lines) {
        assert_eq!(row[0], line["recorded_by"].as_str().unwrap_or(""));
        assert_eq!(row[2], two_decimals(&line["revenue"]));
        let json: chrono::DateTime<chrono::Utc> =
            line["first_sale"].as_str().unwrap().parse().unwrap();
        assert_eq!(
            row[4].parse::<chrono::DateTime<chrono::Utc>>().unwrap(),
            json
        );
    }
}

async fn bad_series_and_report_queries_are_refused_with_a_sentence(store: SharedStore) {
    let api = api(store);
    for (path, status, sentence) in [
        (
            "/analytics/sales?granularity=year&from_date=2025-01-01&to_date=2025-01-02",
            400,
            "granularity \"year\" is not valid: expected hour, day, week or month",
        ),
        (
            "/analytics/sales?from_date=2025-01-01&to_date=2025-01-02",
            400,
            "query parameter `granularity` is required",
        ),
        (
            "/analytics/sales?granularity=day&to_date=2025-01-02",
            400,
            "query parameter `from_date` is required",
        ),
        (
            "/analytics/sales?granularity=day&from_date=2025-01-02&to_date=2025-01-01",
            400,
            "the dates are empty: `to_date` must not be before `from_date`",
        ),
        (
            "/analytics/sales?granularity=hour&from_date=2024-01-01&to_date=2025-01-01",
            400,
            "the series would have 8808 hours, more than the 8784 it may have",
        ),
        (
            "/analytics/sales?granularity=day&from_date=2025-1-1&to_date=2025-01-02",
            400,
            "query parameter `from_date` must be a date written YYYY-MM-DD",
        ),
        (
            "/analytics/sales?granularity=day&from_date=2025-01-01&to_date=2025-01-02&supermarket_id=0",
            400,
            "query parameter `supermarket_id` must be a whole number",
        ),
        (
            "/analytics/sales?granularity=day&from_date=2025-01-01&to_date=2025-01-02&format=xml",
            400,
            "query parameter `format` must be csv or json",
        ),
        (
            "/analytics/daily-report?date=2025-01-01",
            400,
            "query parameter `supermarket_id` is required",
        ),
        (
            "/analytics/daily-report?supermarket_id=1",
            400,
            "query parameter `date` is required",
        ),
        (
            "/analytics/daily-report?supermarket_id=1&date=yesterday",
            400,
            "query parameter `date` must be a date written YYYY-MM-DD",
        ),
        (
            "/analytics/daily-report?supermarket_id=1&date=2025-01-01&format=csv&lines=days",
            400,
            "query parameter `lines` must be products, hours or tills",
        ),
        (
            "/analytics/daily-report?supermarket_id=9&date=2025-01-01",
            404,
            "supermarket 9 was not found",
        ),
    ] {
        let answer = get(&api, path).await;
        assert_eq!(answer.status, status, "{path}: {}", answer.text());
        assert!(
            answer.error().starts_with(sentence),
            "{path}: {}",
            answer.error()
        );
    }
}
