//! Recording purchases and reading them back.

use futures::future::join_all;

use crate::analytics::Filter;
use crate::error::{Error, ValidationError};
use crate::id::{CustomerRef, ProductId, PurchaseId};
use crate::money::Money;
use crate::product::Product;
use crate::store::Store;

use super::fixture::*;

/// A purchase is priced at the catalog's prices, gets an id and a minted customer, and reads
/// back whole.
pub async fn records_a_purchase_and_reads_it_back(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    let recorded = store
        .record_purchase(new_purchase(2, CustomerRef::New, &[EGGS, MILK], day(0)))
        .await
        .unwrap();
    assert_eq!(recorded.total(), money("4.5"));
    let details = recorded.details();
    assert_eq!(details.branch(), branch(2));
    assert_eq!(details.at(), day(0));
    let lines: Vec<(i32, &str, Money)> = details
        .lines()
        .iter()
        .map(|l| (l.product().get(), l.name(), l.unit_price()))
        .collect();
    assert_eq!(
        lines,
        [(EGGS, "eggs", money("3")), (MILK, "milk", money("1.5"))]
    );
    assert_eq!(store.purchase(recorded.id()).await.unwrap(), recorded);

    let second = store
        .record_purchase(new_purchase(1, CustomerRef::New, &[BREAD], day(1)))
        .await
        .unwrap();
    assert!(second.id() > recorded.id(), "ids grow in recording order");
    assert_ne!(
        second.details().customer(),
        details.customer(),
        "each \"new\" is a new customer"
    );
    assert!(store.has_purchases().await.unwrap());
    assert_eq!(store.unique_customers(&Filter::ALL).await.unwrap(), 2);
}

/// A customer id the till gives is kept, and a customer seen before counts once.
pub async fn keeps_a_known_customer_id(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    for n in 0..2 {
        let recorded = store
            .record_purchase(new_purchase(
                1,
                CustomerRef::Known(customer(A)),
                &[MILK],
                day(n),
            ))
            .await
            .unwrap();
        assert_eq!(recorded.details().customer(), customer(A));
    }
    assert_eq!(store.unique_customers(&Filter::ALL).await.unwrap(), 1);
}

/// A purchase naming a product that does not exist is refused whole.
pub async fn refuses_an_unknown_product_and_writes_nothing(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    let error = store
        .record_purchase(new_purchase(1, CustomerRef::New, &[MILK, 99], day(0)))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Invalid(ValidationError::UnknownProduct(id)) if id.get() == 99),
        "{error:?}"
    );
    assert_eq!(error.to_string(), "product 99 does not exist");
    assert_nothing_written(store).await;
}

/// A purchase at a branch the chain does not have is refused whole.
pub async fn refuses_an_unknown_branch_and_writes_nothing(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    let error = store
        .record_purchase(new_purchase(9, CustomerRef::New, &[MILK], day(0)))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Invalid(ValidationError::UnknownBranch(id)) if id.get() == 9),
        "{error:?}"
    );
    assert_eq!(error.to_string(), "supermarket 9 does not exist");
    assert_nothing_written(store).await;
}

/// Reading a purchase that does not exist is a not-found error.
pub async fn an_unknown_purchase_is_not_found(store: &dyn Store) {
    let error = store
        .purchase(PurchaseId::new(42).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::NotFound {
                what: "purchase",
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.to_string(), "purchase 42 was not found");
}

/// A price change applies to later purchases only: receipts and revenue keep the old price.
pub async fn a_price_change_leaves_past_purchases_alone(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    let before = store
        .record_purchase(new_purchase(1, CustomerRef::New, &[MILK], day(0)))
        .await
        .unwrap();
    let dearer = Product::new(ProductId::new(MILK).unwrap(), "milk", money("2.25")).unwrap();
    store.put_products(&[dearer]).await.unwrap();
    let after = store
        .record_purchase(new_purchase(1, CustomerRef::New, &[MILK], day(1)))
        .await
        .unwrap();
    assert_eq!(
        store.purchase(before.id()).await.unwrap().total(),
        money("1.50")
    );
    assert_eq!(after.total(), money("2.25"));
    let products = store.products().await.unwrap();
    assert_eq!(products[0].price(), money("2.25"));
    let statistics = store.statistics(&Filter::ALL).await.unwrap();
    assert_eq!(statistics.total_revenue, money("3.75"));
}

/// Purchases recorded at once from many tills are all kept, each whole and under its own id.
pub async fn concurrent_purchases_are_all_recorded(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    let tills: u32 = 16;
    let per_till: u32 = 10;
    let recorded = join_all((0..tills).map(|till| async move {
        let mut ids = Vec::new();
        for n in 0..per_till {
            let who = CustomerRef::Known(customer(u128::from(till) + 100));
            let purchase =
                new_purchase(1 + (till % 3) as i32, who, &[MILK, EGGS], day(i64::from(n)));
            ids.push(store.record_purchase(purchase).await.unwrap().id());
        }
        ids
    }))
    .await;
    let mut ids: Vec<PurchaseId> = recorded.into_iter().flatten().collect();
    ids.sort();
    ids.dedup();
    assert_eq!(
        ids.len(),
        (tills * per_till) as usize,
        "every purchase has its own id"
    );
    let statistics = store.statistics(&Filter::ALL).await.unwrap();
    assert_eq!(statistics.total_purchases, u64::from(tills * per_till));
    assert_eq!(statistics.total_revenue, money("720"));
    assert_eq!(statistics.unique_customers, u64::from(tills));
    let top = store.top_products(&Filter::ALL, 3).await.unwrap();
    assert!(
        top.iter()
            .all(|r| r.sales.units_sold == u64::from(tills * per_till))
    );
}

/// A fresh store answers a ping and has every migration it needs: what `/readyz` asks it.
pub async fn a_fresh_store_answers_and_lacks_no_migration(store: &dyn Store) {
    store.ping().await.expect("a fresh store answers");
    assert_eq!(store.missing_migrations().await.expect("asked"), 0);
}

/// A purchase names the key that recorded it, on its answer and its receipt; one made without
/// a key names none.
pub async fn a_purchase_names_the_key_that_recorded_it(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    let till = crate::key::KeyName::new("branch-2-till-7").unwrap();
    let recorded = store
        .record_purchase(
            new_purchase(2, CustomerRef::New, &[MILK], day(0)).recorded_by(Some(till.clone())),
        )
        .await
        .unwrap();
    assert_eq!(recorded.details().recorder(), Some(&till));
    let receipt = store.purchase(recorded.id()).await.unwrap();
    assert_eq!(receipt.details().recorder(), Some(&till));
    let anonymous = store
        .record_purchase(new_purchase(2, CustomerRef::New, &[MILK], day(0)))
        .await
        .unwrap();
    let receipt = store.purchase(anonymous.id()).await.unwrap();
    assert_eq!(receipt.details().recorder(), None);
}
