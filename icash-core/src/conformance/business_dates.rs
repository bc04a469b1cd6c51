//! Business dates: each branch's days in its own zone from its own start of day, across
//! daylight saving changes and offsets that are not whole hours, held equal to a scan that
//! converts each sale's time to its branch's local business date.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use proptest::strategy::ValueTree;

use crate::analytics::{CustomerActivity, LoyalQuery};
use crate::business_day::BusinessDates;
use crate::id::{BranchId, CustomerRef, ProductId};
use crate::money::Money;
use crate::period::{self, DatedFilter, Period};
use crate::product::Branch;
use crate::store::Store;

use super::fixture::*;

/// Zones with daylight saving (New York, London, Jerusalem; Lord Howe's half-hour change), with
/// offsets off the whole hour (Kolkata, Kathmandu), and UTC.
const ZONES: [&str; 7] = [
    "UTC",
    "America/New_York",
    "Europe/London",
    "Asia/Jerusalem",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Asia/Kathmandu",
];

/// Starts of day away from the hours the clocks change at.
const STARTS: [&str; 4] = ["00:00", "04:00", "05:30", "22:00"];

/// Instants the clocks changed in 2025 in those zones: sales are made around them.
fn changes() -> [DateTime<Utc>; 8] {
    [
        "2025-03-09T07:00:00Z", // New York forward: a 23-hour day
        "2025-11-02T06:00:00Z", // New York back: a 25-hour day
        "2025-03-30T01:00:00Z", // London forward
        "2025-10-26T01:00:00Z", // London back
        "2025-03-28T00:00:00Z", // Jerusalem forward
        "2025-10-25T23:00:00Z", // Jerusalem back
        "2025-04-05T15:00:00Z", // Lord Howe back half an hour
        "2025-10-04T15:30:00Z", // Lord Howe forward half an hour
    ]
    .map(|text| text.parse().unwrap())
}

#[derive(Clone, Debug)]
struct Sale {
    branch: i32,
    customer: u128,
    items: Vec<i32>,
    at: DateTime<Utc>,
}

fn sale() -> impl Strategy<Value = Sale> {
    (
        1..=3i32,
        1..=6u128,
        proptest::sample::subsequence(vec![MILK, BREAD, EGGS, GUM, CANDY], 1..=3),
        0..8usize,
        -3 * 86_400..3 * 86_400i64,
    )
        .prop_map(|(branch, customer, items, change, offset)| Sale {
            branch,
            customer,
            items,
            at: changes()[change] + Duration::seconds(offset),
        })
}

/// The branches' settings of a round: a zone and a start of day for each.
fn settings() -> impl Strategy<Value = Vec<(usize, usize)>> {
    proptest::collection::vec((0..ZONES.len(), 0..STARTS.len()), 3)
}

/// A question: one branch or all, and dates (either end may be open) near a change.
fn question() -> impl Strategy<Value = (Option<i32>, Option<i64>, Option<i64>, usize)> {
    (
        proptest::option::of(1..=3i32),
        proptest::option::weighted(0.85, -4..4i64),
        proptest::option::weighted(0.85, 0..5i64),
        0..8usize,
    )
}

struct Expected {
    purchases: u64,
    revenue: Money,
    by_branch: BTreeMap<BranchId, (u64, Money)>,
    units: BTreeMap<ProductId, u64>,
    activity: Vec<CustomerActivity>,
}

fn expected(
    sales: &[(Sale, Money)],
    branches: &[Branch],
    branch: Option<i32>,
    dates: &BusinessDates,
) -> Expected {
    let mut result = Expected {
        purchases: 0,
        revenue: Money::ZERO,
        by_branch: BTreeMap::new(),
        units: BTreeMap::new(),
        activity: Vec::new(),
    };
    let mut activity: HashMap<u128, CustomerActivity> = HashMap::new();
    for (sale, total) in sales {
        let settings = &branches[sale.branch as usize - 1];
        let date = local_business_date(settings, sale.at);
        let admitted = branch.is_none_or(|wanted| wanted == sale.branch)
            && dates.from().is_none_or(|from| date >= from)
            && dates.to().is_none_or(|to| date <= to);
        if !admitted {
            continue;
        }
        result.purchases += 1;
        result.revenue = result.revenue + *total;
        let row = result
            .by_branch
            .entry(settings.id())
            .or_insert((0, Money::ZERO));
        *row = (row.0 + 1, row.1 + *total);
        for item in &sale.items {
            *result
                .units
                .entry(ProductId::new(*item).unwrap())
                .or_default() += 1;
        }
        activity
            .entry(sale.customer)
            .and_modify(|kept| {
                kept.purchase_count += 1;
                kept.total_spent = kept.total_spent + *total;
                kept.first_purchase = kept.first_purchase.min(sale.at);
                kept.last_purchase = kept.last_purchase.max(sale.at);
            })
            .or_insert(CustomerActivity {
                customer: customer(sale.customer),
                purchase_count: 1,
                total_spent: *total,
                first_purchase: sale.at,
                last_purchase: sale.at,
            });
    }
    result.activity = activity.into_values().collect();
    result.activity.sort_by(CustomerActivity::loyal_order);
    result
}

/// Random sales around the clocks' changes, at branches whose zones and starts of day change
/// from round to round (all alike in the first, so that the common path is taken too): every
/// figure over business dates, of one branch or the chain, equals the scan's.
pub async fn business_dates_equal_a_naive_recomputation(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    let prices = prices();
    let mut runner = seeded(21);
    let sales_strategy = proptest::collection::vec(sale(), 60..90);
    let generated = sales_strategy.new_tree(&mut runner).unwrap().current();
    let mut sales = Vec::new();
    for sale in generated {
        let purchase = new_purchase(
            sale.branch,
            CustomerRef::Known(customer(sale.customer)),
            &sale.items,
            sale.at,
        );
        let recorded = store.record_purchase(purchase).await.unwrap();
        let total: Money = sale.items.iter().map(|item| prices[item]).sum();
        assert_eq!(recorded.total(), total);
        sales.push((sale, total));
    }

    let mut asked = 0;
    let mut spread = false;
    for round in 0..6 {
        let chosen = if round == 0 {
            vec![(6, 1); 3]
        } else {
            settings().new_tree(&mut runner).unwrap().current()
        };
        let named: Vec<(&str, &str)> = chosen
            .iter()
            .map(|&(zone, start)| (ZONES[zone], STARTS[start]))
            .collect();
        set_branches(store, &named).await;
        let branches = store.branches().await.unwrap();
        for _ in 0..8 {
            let (which, from, length, change) = question().new_tree(&mut runner).unwrap().current();
            let anchor = changes()[change].date_naive();
            let from_date = from.map(|days| anchor + Duration::days(days));
            let to_date = length.map(|days| from_date.unwrap_or(anchor) + Duration::days(days));
            let dates = BusinessDates::new(from_date, to_date).unwrap();
            let dated = DatedFilter {
                branch: which.map(branch),
                dates,
            };
            spread |= matches!(dated.resolve(&branches), Ok(period::Resolved::PerBranch(_)));
            let period = Period::Dates(dated);
            let want = expected(&sales, &branches, which, &dates);
            let what = format!("round {round}, branch {which:?}, {dates:?}, {chosen:?}");

            let statistics = period::statistics(store, &period).await.unwrap();
            assert_eq!(statistics.total_purchases, want.purchases, "{what}");
            assert_eq!(statistics.total_revenue, want.revenue, "{what}");
            assert_eq!(
                statistics.unique_customers,
                want.activity.len() as u64,
                "{what}"
            );
            let by_branch: BTreeMap<BranchId, (u64, Money)> = statistics
                .by_branch
                .iter()
                .filter(|row| row.purchase_count > 0)
                .map(|row| (row.branch, (row.purchase_count, row.revenue)))
                .collect();
            assert_eq!(by_branch, want.by_branch, "{what}");
            assert_eq!(
                period::unique_customers(store, &period).await.unwrap(),
                want.activity.len() as u64,
                "{what}"
            );
            let units: BTreeMap<ProductId, u64> = period::product_sales(store, &period)
                .await
                .unwrap()
                .into_iter()
                .filter(|sales| sales.units_sold > 0)
                .map(|sales| (sales.product, sales.units_sold))
                .collect();
            assert_eq!(units, want.units, "{what}");
            let loyal = period::loyal_customers(
                store,
                &period,
                &LoyalQuery {
                    min_purchases: 2,
                    ..LoyalQuery::default()
                },
            )
            .await
            .unwrap();
            let want_loyal: Vec<CustomerActivity> = want
                .activity
                .iter()
                .filter(|entry| entry.purchase_count >= 2)
                .cloned()
                .collect();
            assert_eq!(loyal.count, want_loyal.len() as u64, "{what}");
            assert_eq!(loyal.customers, want_loyal, "{what}");
            let dashboard = period::dashboard(store, &period).await.unwrap();
            assert_eq!(dashboard.statistics, statistics, "{what}");
            asked += 1;
        }
    }
    assert_eq!(asked, 48);
    assert!(spread, "some questions had branches with different ranges");
}
