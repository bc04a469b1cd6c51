//! The owner's figures.

use futures::TryStreamExt;

use crate::analytics::{CustomerPurchases, Filter, LoyalCustomers, LoyalQuery, TopCustomersQuery};
use crate::id::{CustomerId, CustomerRef};
use crate::money::Money;
use crate::store::Store;

use super::fixture::*;

/// With no purchases, every figure is zero and every list empty; the branches still show.
pub async fn an_empty_store_has_empty_analytics(store: &dyn Store) {
    assert!(!store.has_purchases().await.unwrap());
    assert_eq!(store.unique_customers(&Filter::ALL).await.unwrap(), 0);
    let loyal = store.loyal_customers(&LoyalQuery::default()).await.unwrap();
    assert_eq!((loyal.count, loyal.customers.len()), (0, 0));
    assert!(
        store
            .top_products(&Filter::ALL, 3)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .top_customers(&TopCustomersQuery::default())
            .await
            .unwrap()
            .is_empty()
    );
    let statistics = store.statistics(&Filter::ALL).await.unwrap();
    assert_eq!(
        (statistics.unique_customers, statistics.total_purchases),
        (0, 0)
    );
    assert_eq!(statistics.total_revenue, Money::ZERO);
    let branches: Vec<(i32, u64)> = statistics
        .by_branch
        .iter()
        .map(|b| (b.branch.get(), b.purchase_count))
        .collect();
    assert_eq!(branches, [(1, 0), (2, 0), (3, 0)]);
    // The dashboard, whatever the filter's shape: its parts are empty together.
    for filter in [
        Filter::ALL,
        Filter::new(Some(branch(2)), None, None).unwrap(),
        Filter::new(None, Some(day(1)), Some(day(3))).unwrap(),
        Filter::new(Some(branch(2)), Some(day(1)), None).unwrap(),
    ] {
        let dashboard = store.dashboard(&filter).await.unwrap();
        assert_eq!(
            dashboard.statistics,
            store.statistics(&filter).await.unwrap()
        );
        assert_eq!(dashboard.statistics.total_purchases, 0);
        assert_eq!(dashboard.unique_customers, 0);
        assert_eq!(dashboard.loyal_customers.count, 0);
        assert!(dashboard.loyal_customers.customers.is_empty());
        assert!(dashboard.top_products.is_empty());
    }
}

/// Every analytic on the fixture, whose figures were worked out by hand.
pub async fn analytics_match_the_fixture(store: &dyn Store) {
    load_fixture(store).await;
    assert_eq!(store.unique_customers(&Filter::ALL).await.unwrap(), 4);

    let loyal = store.loyal_customers(&LoyalQuery::default()).await.unwrap();
    assert_eq!(loyal.count, 3);
    let entries: Vec<(CustomerId, u64, Money)> = loyal
        .customers
        .iter()
        .map(|e| (e.customer, e.purchase_count, e.total_spent))
        .collect();
    assert_eq!(
        entries,
        [
            (customer(C), 4, money("14")),
            (customer(B), 3, money("12.5")),
            (customer(A), 3, money("0.6"))
        ]
    );
    assert_eq!(
        (
            loyal.customers[0].first_purchase,
            loyal.customers[0].last_purchase
        ),
        (day(0), day(3))
    );

    let top: Vec<(i32, u64, u32)> = store
        .top_products(&Filter::ALL, 3)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.sales.product.get(), r.sales.units_sold, r.rank))
        .collect();
    assert_eq!(
        top,
        [(MILK, 5, 1), (BREAD, 5, 1), (EGGS, 3, 3), (CANDY, 3, 3)]
    );
    let sales = store.product_sales(&Filter::ALL).await.unwrap();
    assert!(
        sales.iter().all(|s| s.product.get() != CAVIAR),
        "caviar never sold"
    );
    assert!(
        sales
            .iter()
            .any(|s| s.product.get() == GUM && s.units_sold == 2 && s.name == "gum")
    );

    let statistics = store.statistics(&Filter::ALL).await.unwrap();
    assert_eq!(
        (statistics.unique_customers, statistics.total_purchases),
        (4, 11)
    );
    assert_eq!(statistics.total_revenue, money("27.30"));
    let branches: Vec<(i32, u64, Money)> = statistics
        .by_branch
        .iter()
        .map(|b| (b.branch.get(), b.purchase_count, b.revenue))
        .collect();
    assert_eq!(
        branches,
        [
            (1, 4, money("10.30")),
            (2, 4, money("6.80")),
            (3, 3, money("10.20"))
        ]
    );

    let top_customers = store
        .top_customers(&TopCustomersQuery::default())
        .await
        .unwrap();
    let counts: Vec<(CustomerId, u64)> = top_customers
        .iter()
        .map(|c| (c.customer, c.purchase_count))
        .collect();
    assert_eq!(
        counts,
        [
            (customer(C), 4),
            (customer(A), 3),
            (customer(B), 3),
            (customer(D), 1)
        ]
    );
}

/// The long lists page by cursor without gaps or overlaps; the loyal count stays whole.
pub async fn lists_page_by_cursor(store: &dyn Store) {
    load_fixture(store).await;
    let first = LoyalQuery {
        limit: Some(2),
        ..LoyalQuery::default()
    };
    let page = store.loyal_customers(&first).await.unwrap();
    assert_eq!(page.count, 3);
    let ids: Vec<CustomerId> = page.customers.iter().map(|e| e.customer).collect();
    assert_eq!(ids, [customer(C), customer(B)]);
    let next = LoyalQuery {
        after: Some(page.customers[1].cursor()),
        ..first
    };
    let page = store.loyal_customers(&next).await.unwrap();
    let ids: Vec<CustomerId> = page.customers.iter().map(|e| e.customer).collect();
    assert_eq!((page.count, ids), (3, vec![customer(A)]));

    let first = TopCustomersQuery {
        limit: 2,
        after: None,
    };
    let page = store.top_customers(&first).await.unwrap();
    assert_eq!(
        page.iter().map(|c| c.customer).collect::<Vec<_>>(),
        [customer(C), customer(A)]
    );
    let next = TopCustomersQuery {
        after: Some(page[1]),
        ..first
    };
    let page = store.top_customers(&next).await.unwrap();
    assert_eq!(
        page.iter().map(|c| c.customer).collect::<Vec<_>>(),
        [customer(B), customer(D)]
    );
    let after_last = TopCustomersQuery {
        after: Some(CustomerPurchases {
            customer: customer(D),
            purchase_count: 1,
        }),
        ..first
    };
    assert!(store.top_customers(&after_last).await.unwrap().is_empty());
}

/// The streamed loyal list is the gathered one, whatever the query: whole history or filtered,
/// from a cursor, paged, or empty.
pub async fn the_loyal_stream_is_the_loyal_list(store: &dyn Store) {
    load_fixture(store).await;
    let everyone = store.loyal_customers(&LoyalQuery::default()).await.unwrap();
    let queries = [
        LoyalQuery::default(),
        LoyalQuery {
            after: Some(everyone.customers[0].cursor()),
            ..LoyalQuery::default()
        },
        LoyalQuery {
            limit: Some(2),
            ..LoyalQuery::default()
        },
        LoyalQuery {
            min_purchases: 1,
            filter: Filter::new(None, Some(day(4)), Some(day(7))).unwrap(),
            ..LoyalQuery::default()
        },
        LoyalQuery {
            min_purchases: 1,
            filter: Filter::new(Some(branch(2)), None, None).unwrap(),
            after: Some(everyone.customers[0].cursor()),
            ..LoyalQuery::default()
        },
        LoyalQuery {
            min_purchases: 100,
            ..LoyalQuery::default()
        },
        LoyalQuery {
            min_purchases: 100,
            filter: Filter::new(Some(branch(2)), None, None).unwrap(),
            ..LoyalQuery::default()
        },
    ];
    for query in queries {
        let gathered = store.loyal_customers(&query).await.unwrap();
        let streamed = store.loyal_customers_stream(&query).await.unwrap();
        let count = streamed.count;
        let customers: Vec<_> = streamed.customers.try_collect().await.unwrap();
        assert_eq!(
            LoyalCustomers { count, customers },
            gathered,
            "streamed against gathered for {query:?}"
        );
    }
}

/// A branch or a period narrows every analytic; `from` is inclusive and `to` exclusive.
pub async fn filters_by_branch_and_period(store: &dyn Store) {
    load_fixture(store).await;
    let second_branch = Filter::new(Some(branch(2)), None, None).unwrap();
    let statistics = store.statistics(&second_branch).await.unwrap();
    assert_eq!(
        (statistics.unique_customers, statistics.total_purchases),
        (3, 4)
    );
    assert_eq!(statistics.total_revenue, money("6.80"));
    assert_eq!(statistics.by_branch.len(), 1);
    assert_eq!(store.unique_customers(&second_branch).await.unwrap(), 3);

    // Days 4, 5 and 6: B's three purchases.
    let period = Filter::new(None, Some(day(4)), Some(day(7))).unwrap();
    assert_eq!(store.unique_customers(&period).await.unwrap(), 1);
    let statistics = store.statistics(&period).await.unwrap();
    assert_eq!(
        (statistics.total_purchases, statistics.total_revenue),
        (3, money("12.50"))
    );
    let loyal = store
        .loyal_customers(&LoyalQuery {
            filter: period,
            ..LoyalQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        loyal
            .customers
            .iter()
            .map(|e| e.customer)
            .collect::<Vec<_>>(),
        [customer(B)]
    );
    let top: Vec<(i32, u32)> = store
        .top_products(&period, 3)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.sales.product.get(), r.rank))
        .collect();
    assert_eq!(top, [(EGGS, 1), (MILK, 2), (BREAD, 2)]);
}

/// Sums that binary floats get wrong are exact in every figure.
pub async fn money_sums_are_exact(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    for n in 0..10 {
        store
            .record_purchase(new_purchase(
                1,
                CustomerRef::Known(customer(A)),
                &[GUM, CANDY],
                day(n),
            ))
            .await
            .unwrap();
    }
    let statistics = store.statistics(&Filter::ALL).await.unwrap();
    assert_eq!(statistics.total_revenue, money("3.00"));
    let loyal = store.loyal_customers(&LoyalQuery::default()).await.unwrap();
    assert_eq!(loyal.customers[0].total_spent, money("3"));
}

/// The dashboard is every analytic at once, with the first loyal customers only.
pub async fn the_dashboard_gathers_every_analytic(store: &dyn Store) {
    load_fixture(store).await;
    let dashboard = store.dashboard(&Filter::ALL).await.unwrap();
    assert_eq!(dashboard.unique_customers, 4);
    assert_eq!(
        dashboard.statistics,
        store.statistics(&Filter::ALL).await.unwrap()
    );
    assert_eq!(
        dashboard.top_products,
        store.top_products(&Filter::ALL, 3).await.unwrap()
    );
    let loyal = store.loyal_customers(&LoyalQuery::default()).await.unwrap();
    assert_eq!(
        dashboard.loyal_customers, loyal,
        "fewer than ten loyal customers: all of them"
    );
}
