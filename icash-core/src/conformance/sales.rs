//! Sales over time and the day's report: the series held equal to a scan that converts each
//! sale's and refund's time to its branch's local period, across daylight saving changes and
//! offsets off the whole hour, and both held to add up to the statistics.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use proptest::prelude::*;
use proptest::strategy::ValueTree;

use crate::analytics::RefundTotals;
use crate::audit::Origin;
use crate::business_day::{BusinessDates, day_start};
use crate::daily_report::daily_report;
use crate::error::Error;
use crate::id::{CustomerRef, PurchaseId};
use crate::key::KeyName;
use crate::money::Money;
use crate::period::{self, DatedFilter, Period};
use crate::product::Branch;
use crate::refund::{NewRefund, NewVoid, VoidReason};
use crate::sales::SalesFigures;
use crate::series::{Granularity, PeriodStart, SeriesQuery, sales_series};
use crate::store::Store;

use super::fixture::*;

/// Zones with daylight saving (Paris, New York), with offsets off the whole hour (Kolkata,
/// Kathmandu), and UTC.
const ZONES: [&str; 5] = [
    "Europe/Paris",
    "America/New_York",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "UTC",
];

/// Starts of day away from the hours the clocks change at.
const STARTS: [&str; 3] = ["00:00", "04:00", "05:30"];

/// Instants the clocks changed in 2025 in Paris and New York: sales are made around them.
fn changes() -> [DateTime<Utc>; 4] {
    [
        "2025-03-30T01:00:00Z", // Paris forward
        "2025-10-26T01:00:00Z", // Paris back
        "2025-03-09T07:00:00Z", // New York forward: a 23-hour day
        "2025-11-02T06:00:00Z", // New York back: a 25-hour day
    ]
    .map(|text| text.parse().unwrap())
}

#[derive(Clone, Debug)]
struct Sale {
    branch: i32,
    items: Vec<i32>,
    at: DateTime<Utc>,
    /// Refunded this many minutes later, or never.
    refund_after: Option<i64>,
    voided: bool,
}

fn sale() -> impl Strategy<Value = Sale> {
    (
        1..=3i32,
        proptest::sample::subsequence(vec![MILK, BREAD, EGGS, GUM, CANDY], 1..=3),
        0..4usize,
        -3 * 86_400..3 * 86_400i64,
        proptest::option::weighted(0.2, 0..3000i64),
        proptest::bool::weighted(0.1),
    )
        .prop_map(
            |(branch, items, change, offset, refund_after, voided)| Sale {
                branch,
                items,
                at: changes()[change] + Duration::seconds(offset),
                refund_after,
                voided: voided && refund_after.is_none(),
            },
        )
}

/// A sale as recorded, its total, and its refund's instant and amount.
struct Recorded {
    id: PurchaseId,
    sale: Sale,
    total: Money,
    refund: Option<DateTime<Utc>>,
}

async fn record(
    store: &dyn Store,
    sales: Vec<Sale>,
    prices: &HashMap<i32, Money>,
) -> Vec<Recorded> {
    let mut recorded = Vec::new();
    for sale in sales {
        let purchase = new_purchase(sale.branch, CustomerRef::New, &sale.items, sale.at);
        let id = store.record_purchase(purchase).await.unwrap().id();
        let refund = sale
            .refund_after
            .map(|minutes| sale.at + Duration::minutes(minutes));
        if let Some(at) = refund {
            let refund = NewRefund::new(id, None, at).unwrap();
            store
                .refund(&refund, None, &Origin::system())
                .await
                .unwrap();
        }
        if sale.voided {
            void(store, id).await;
        }
        let total = sale.items.iter().map(|item| prices[item]).sum();
        recorded.push(Recorded {
            id,
            sale,
            total,
            refund,
        });
    }
    recorded
}

async fn void(store: &dyn Store, id: PurchaseId) {
    let void = NewVoid::new(id, VoidReason::new("rung up twice").unwrap(), Utc::now());
    store.void(&void, &Origin::system()).await.unwrap();
}

/// The scan: the period `at` falls in at `branch`.
fn naive_period(branch: &Branch, at: DateTime<Utc>, granularity: Granularity) -> PeriodStart {
    let date = local_business_date(branch, at);
    match granularity {
        Granularity::Day => PeriodStart::Date(date),
        Granularity::Week => PeriodStart::Date(
            date - Duration::days(i64::from(date.weekday().num_days_from_monday())),
        ),
        Granularity::Month => PeriodStart::Date(date.with_day(1).unwrap()),
        Granularity::Hour => {
            let start = day_start(branch, date);
            let hour = start + Duration::hours((at - start).num_seconds().div_euclid(3600));
            PeriodStart::Time(branch.time_zone().local_of_instant(hour))
        }
    }
}

fn expected(
    recorded: &[Recorded],
    branches: &[Branch],
    query: &SeriesQuery,
) -> BTreeMap<PeriodStart, SalesFigures> {
    let dates = query.dates();
    let mut points: BTreeMap<PeriodStart, SalesFigures> = BTreeMap::new();
    let mut add = |branch: &Branch, at: DateTime<Utc>, figures: SalesFigures| {
        let date = local_business_date(branch, at);
        let admitted = query.branch().is_none_or(|wanted| wanted == branch.id())
            && dates.from().is_none_or(|from| date >= from)
            && dates.to().is_none_or(|to| date <= to);
        if admitted {
            let point = points
                .entry(naive_period(branch, at, query.granularity()))
                .or_default();
            *point = *point + figures;
        }
    };
    for entry in recorded {
        let branch = &branches[entry.sale.branch as usize - 1];
        if !entry.sale.voided {
            let sold = SalesFigures {
                purchases: 1,
                revenue: entry.total,
                units: entry.sale.items.len() as u64,
                refunds: RefundTotals::default(),
            };
            add(branch, entry.sale.at, sold);
        }
        if let Some(at) = entry.refund {
            let refunded = SalesFigures {
                refunds: RefundTotals {
                    count: 1,
                    amount: entry.total,
                },
                ..SalesFigures::default()
            };
            add(branch, at, refunded);
        }
    }
    points
}

/// Random sales, refunds and voids around the clocks' changes, at branches whose zones and starts
/// of day change from round to round (the sales of earlier rounds reckoned again, more sales
/// made under the new settings): every series, by hour, day, week and month, of one branch or
/// the chain, equals the scan's, lists every period, and adds up to the statistics of its dates.
pub async fn sales_over_time_equal_a_naive_recomputation(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    let prices = prices();
    let mut runner = seeded(23);
    let mut recorded = Vec::new();
    let mut asked = 0;
    for round in 0..5 {
        let chosen: Vec<(usize, usize)> = if round == 0 {
            vec![(0, 0); 3]
        } else {
            proptest::collection::vec((0..ZONES.len(), 0..STARTS.len()), 3)
                .new_tree(&mut runner)
                .unwrap()
                .current()
        };
        let named: Vec<(&str, &str)> = chosen
            .iter()
            .map(|&(zone, start)| (ZONES[zone], STARTS[start]))
            .collect();
        set_branches(store, &named).await;
        let sales = proptest::collection::vec(sale(), 15..25)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        // A purchase of an earlier round voided now, after its branch's days were rebuilt.
        if let Some(earlier) = recorded
            .iter_mut()
            .find(|entry: &&mut Recorded| !entry.sale.voided && entry.refund.is_none())
        {
            void(store, earlier.id).await;
            earlier.sale.voided = true;
        }
        recorded.extend(record(store, sales, &prices).await);
        let branches = store.branches().await.unwrap();

        for _ in 0..8 {
            let (which, granularity, from, length, change) = (
                proptest::option::of(1..=3i32),
                0..4usize,
                -4..1i64,
                0..7i64,
                0..4usize,
            )
                .new_tree(&mut runner)
                .unwrap()
                .current();
            let granularity = [
                Granularity::Hour,
                Granularity::Day,
                Granularity::Week,
                Granularity::Month,
            ][granularity];
            let from = changes()[change].date_naive() + Duration::days(from);
            let to = from + Duration::days(length);
            let query = SeriesQuery::new(which.map(branch), granularity, from, to).unwrap();
            let what = format!("round {round}: {query:?} with {chosen:?}");
            let series = sales_series(store, &query).await.unwrap();

            let starts: Vec<PeriodStart> = series.iter().map(|point| point.start).collect();
            assert!(
                starts.windows(2).all(|w| w[0] < w[1]),
                "{what}: in order, once each"
            );
            if granularity == Granularity::Day {
                let days: Vec<PeriodStart> = from
                    .iter_days()
                    .take_while(|day| *day <= to)
                    .map(PeriodStart::Date)
                    .collect();
                assert_eq!(starts, days, "{what}: every day listed");
            }
            let got: BTreeMap<PeriodStart, SalesFigures> = series
                .iter()
                .filter(|point| point.figures != SalesFigures::default())
                .map(|point| (point.start, point.figures))
                .collect();
            let want = expected(&recorded, &branches, &query);
            assert!(
                want.keys().all(|start| starts.contains(start)),
                "{what}: a period with sales is listed"
            );
            assert_eq!(got, want, "{what}");

            let total: SalesFigures = series.iter().map(|point| point.figures).sum();
            let dated = Period::Dates(DatedFilter {
                branch: which.map(branch),
                dates: BusinessDates::new(Some(from), Some(to)).unwrap(),
            });
            let statistics = period::statistics(store, &dated).await.unwrap();
            assert_eq!(total.purchases, statistics.total_purchases, "{what}");
            assert_eq!(total.revenue, statistics.total_revenue, "{what}");
            assert_eq!(total.refunds, statistics.refunds, "{what}");
            assert_eq!(total.net_revenue(), statistics.net_revenue(), "{what}");
            asked += 1;
        }
    }
    assert_eq!(asked, 40);
}

/// The day's report of a 25-hour day in New York: every hour listed with its offset, each till's
/// purchases, the voids, and refunds of earlier sales, all adding up to the day's statistics.
pub async fn the_daily_report_adds_up_to_the_days_statistics(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    set_branches(store, &[("UTC", "00:00"), ("America/New_York", "00:00")]).await;
    let till = |name: &str| Some(KeyName::new(name).unwrap());
    let at = |text: &str| text.parse::<DateTime<Utc>>().unwrap();
    let sell = |who: Option<KeyName>, items: &'static [i32], when: DateTime<Utc>| {
        let purchase = new_purchase(2, CustomerRef::New, items, when).recorded_by(who);
        async move { store.record_purchase(purchase).await.unwrap().id() }
    };
    // The day before, sold and refunded on the day.
    let earlier = sell(till("till-1"), &[CAVIAR], at("2025-11-01T15:00:00Z")).await;
    sell(till("till-1"), &[MILK, BREAD], at("2025-11-02T04:00:00Z")).await; // 00:00 EDT
    sell(till("till-2"), &[EGGS], at("2025-11-02T05:30:00Z")).await; // 01:30 EDT
    sell(None, &[GUM], at("2025-11-02T06:30:00Z")).await; // 01:30 EST
    let voided = sell(till("till-2"), &[CANDY, MILK], at("2025-11-02T12:00:00Z")).await;
    sell(till("till-1"), &[BREAD], at("2025-11-03T04:59:59Z")).await; // 23:59:59 EST
    sell(till("till-1"), &[BREAD], at("2025-11-03T05:00:00Z")).await; // the next day
    sell(None, &[MILK], at("2025-11-02T10:00:00Z")).await;
    void(store, voided).await;
    let refund = NewRefund::new(earlier, None, at("2025-11-02T20:00:00Z")).unwrap();
    store
        .refund(&refund, None, &Origin::system())
        .await
        .unwrap();

    let date: NaiveDate = "2025-11-02".parse().unwrap();
    let report = daily_report(store, branch(2), date).await.unwrap();
    let day = Period::Dates(DatedFilter {
        branch: Some(branch(2)),
        dates: BusinessDates::day(date),
    });
    let statistics = period::statistics(store, &day).await.unwrap();
    assert_eq!(report.figures.purchases, statistics.total_purchases);
    assert_eq!(report.figures.purchases, 5);
    assert_eq!(report.figures.revenue, statistics.total_revenue);
    assert_eq!(report.figures.refunds, statistics.refunds);
    assert_eq!(report.figures.refunds.amount, money("99.99"));
    assert_eq!(report.figures.net_revenue(), statistics.net_revenue());
    assert_eq!(report.figures.units, 6);
    assert_eq!(
        report.voids,
        RefundTotals {
            count: 1,
            amount: money("1.70")
        }
    );
    assert_eq!(report.starts_at, at("2025-11-02T04:00:00Z"));
    assert_eq!(report.ends_at, at("2025-11-03T05:00:00Z"));
    assert_eq!(report.first_sale, Some(at("2025-11-02T04:00:00Z")));
    assert_eq!(report.last_sale, Some(at("2025-11-03T04:59:59Z")));

    assert_eq!(report.hours.len(), 25, "the day the clocks went back");
    let hours: Vec<String> = report.hours.iter().map(|h| h.start.to_rfc3339()).collect();
    assert_eq!(hours[1], "2025-11-02T01:00:00-04:00");
    assert_eq!(hours[2], "2025-11-02T01:00:00-05:00");
    assert_eq!(hours[24], "2025-11-02T23:00:00-05:00");
    assert_eq!(report.hours[1].figures.purchases, 1);
    assert_eq!(report.hours[2].figures.purchases, 1);
    let by_hour: SalesFigures = report.hours.iter().map(|hour| hour.figures).sum();
    assert_eq!(by_hour, report.figures);

    let tills: Vec<(Option<&str>, u64)> = report
        .tills
        .iter()
        .map(|t| {
            (
                t.recorded_by.as_ref().map(KeyName::as_str),
                t.figures.purchases,
            )
        })
        .collect();
    assert_eq!(tills, [(None, 2), (Some("till-1"), 2), (Some("till-2"), 1)]);
    let by_till: SalesFigures = report.tills.iter().map(|till| till.figures).sum();
    assert_eq!(by_till.purchases, report.figures.purchases);
    assert_eq!(by_till.revenue, report.figures.revenue);
    assert_eq!(by_till.units, report.figures.units);
    let units: u64 = report.products.iter().map(|p| p.units_sold).sum();
    assert_eq!(units, report.figures.units);
    let returned: u64 = report.products.iter().map(|p| p.units_returned).sum();
    assert_eq!(returned, 1, "the caviar refunded that day");

    let spring = daily_report(store, branch(2), "2025-03-09".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(spring.hours.len(), 23);
    assert_eq!(spring.first_sale, None);
    assert_eq!(spring.figures, SalesFigures::default());
    assert!(spring.tills.is_empty());
    let utc = daily_report(store, branch(1), date).await.unwrap();
    assert_eq!(utc.hours.len(), 24);
    assert!(matches!(
        daily_report(store, branch(9), date).await,
        Err(Error::NotFound { .. })
    ));
}
