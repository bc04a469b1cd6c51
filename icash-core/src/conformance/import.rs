//! Bulk loads through an import session.

use chrono::{DateTime, Utc};

use crate::analytics::{Filter, LoyalQuery};
use crate::id::ProductId;
use crate::purchase::{PricedPurchase, PurchaseLine};
use crate::store::Store;

use super::fixture::*;

fn imported(who: u128, items: &[(i32, &str, &str)], at: DateTime<Utc>) -> PricedPurchase {
    let lines = items
        .iter()
        .map(|&(id, name, price)| {
            PurchaseLine::new(ProductId::new(id).unwrap(), name, money(price))
        })
        .collect();
    PricedPurchase::new(branch(1), customer(who), at, lines).unwrap()
}

/// Nothing an import session writes is visible before commit, nor kept if it is dropped.
pub async fn an_import_is_invisible_until_committed(store: &dyn Store) {
    let purchases = [
        imported(A, &[(MILK, "milk", "1.50")], day(0)),
        imported(B, &[(MILK, "milk", "1.50"), (EGGS, "eggs", "3.00")], day(1)),
    ];
    {
        let mut session = store
            .begin_import()
            .await
            .unwrap()
            .expect("an empty store imports");
        session.put_products(&catalog()).await.unwrap();
        session.write(purchases.to_vec()).await.unwrap();
        // Dropped without commit.
    }
    assert!(!store.has_purchases().await.unwrap());
    assert!(store.products().await.unwrap().is_empty());

    let mut session = store.begin_import().await.unwrap().expect("still empty");
    session.put_products(&catalog()).await.unwrap();
    session.write(purchases.to_vec()).await.unwrap();
    session.write(purchases[..1].to_vec()).await.unwrap();
    session.commit().await.unwrap();
    let statistics = store.statistics(&Filter::ALL).await.unwrap();
    assert_eq!(
        (statistics.unique_customers, statistics.total_purchases),
        (2, 3)
    );
    assert_eq!(statistics.total_revenue, money("7.50"));
    assert_eq!(store.products().await.unwrap().len(), catalog().len());
    // Ids are not asserted: a store may leave gaps where a discarded load took some.
    let everyone = LoyalQuery {
        min_purchases: 1,
        ..LoyalQuery::default()
    };
    let activity = store.loyal_customers(&everyone).await.unwrap().customers;
    let a = activity
        .iter()
        .find(|e| e.customer == customer(A))
        .expect("A was imported");
    assert_eq!(
        (a.purchase_count, a.total_spent, a.first_purchase),
        (2, money("3.00"), day(0))
    );
}

/// A store that has purchases refuses a second import, so nothing is ever loaded twice.
pub async fn an_import_runs_only_on_an_empty_store(store: &dyn Store) {
    load_fixture(store).await;
    assert!(store.begin_import().await.unwrap().is_none());
}
