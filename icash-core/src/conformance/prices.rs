//! Prices over time: products added, repriced and retired, and every sale priced at the price
//! in force at its sale time.

use chrono::{Duration, Utc};

use crate::analytics::Filter;
use crate::audit::{AuditKind, AuditQuery, Origin};
use crate::error::{Error, ValidationError};
use crate::id::{CustomerRef, ProductId};
use crate::price::{NewProduct, PriceChange};
use crate::store::Store;

use super::fixture::*;

fn product(id: i32) -> ProductId {
    ProductId::new(id).unwrap()
}

async fn kinds(store: &dyn Store) -> Vec<AuditKind> {
    store
        .audit_entries(&AuditQuery::new(crate::audit::MAX_PAGE, None).unwrap())
        .await
        .unwrap()
        .into_iter()
        .map(|entry| entry.kind)
        .collect()
}

/// A product added while the chain sells gets the next id, is listed at its price, starts its
/// history at the moment it was added, and is audited; a second product of the same name is a
/// conflict that writes nothing.
pub async fn a_product_is_added_listed_and_audited(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    let before = Utc::now() - Duration::seconds(1);
    let tea = NewProduct::new(" tea ", money("4.20")).unwrap();
    let added = store.add_product(&tea, &Origin::system()).await.unwrap();
    assert_eq!(added.id(), product(7));
    assert_eq!((added.name(), added.price()), ("tea", money("4.2")));
    let listed = store.products().await.unwrap();
    assert_eq!(listed.len(), 7);
    assert_eq!(listed.last(), Some(&added));

    let history = store.price_history(product(7)).await.unwrap();
    let added_at = history.added_at.expect("an added product has its time");
    assert!(added_at > before && added_at <= Utc::now(), "{added_at}");
    assert_eq!(history.prices.len(), 1);
    assert_eq!(history.prices[0].effective_from, Some(added_at));
    assert_eq!(history.retired_at, None);
    let loaded = store.price_history(product(MILK)).await.unwrap();
    assert_eq!(
        loaded.added_at, None,
        "loaded products are there from the start"
    );
    assert_eq!(loaded.prices[0].effective_from, None);

    let again = NewProduct::new("TEA", money("1")).unwrap();
    let refused = store.add_product(&again, &Origin::system()).await;
    assert!(matches!(refused, Err(Error::Conflict(_))), "{refused:?}");
    assert_eq!(store.products().await.unwrap().len(), 7);
    assert_eq!(kinds(store).await, [AuditKind::ProductAdded]);

    let sold = store
        .record_purchase(new_purchase(1, CustomerRef::New, &[7, MILK], Utc::now()))
        .await
        .unwrap();
    assert_eq!(sold.total(), money("5.70"));
}

/// A sale is priced at the latest price whose `effective_from` is at or before its sale time:
/// a change dated in the past prices the late sales made since, one dated in the future waits
/// for its time; the catalog lists the price in force now, and past purchases keep theirs.
pub async fn a_sale_is_priced_at_the_price_in_force_at_its_time(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    let sale = |at| new_purchase(1, CustomerRef::New, &[MILK], at);
    let early = store.record_purchase(sale(day(0))).await.unwrap();

    let past = PriceChange::new(money("2.00"), day(5));
    let history = store
        .change_price(product(MILK), &past, &Origin::system())
        .await
        .unwrap();
    assert_eq!(history.prices.len(), 2);
    let now = Utc::now();
    let future = PriceChange::new(money("3.10"), now + Duration::hours(1));
    store
        .change_price(product(MILK), &future, &Origin::system())
        .await
        .unwrap();

    let total_at = |at| async move { store.record_purchase(sale(at)).await.unwrap().total() };
    assert_eq!(total_at(day(4)).await, money("1.50"));
    assert_eq!(total_at(day(5)).await, money("2.00"));
    assert_eq!(total_at(now).await, money("2.00"));
    assert_eq!(total_at(now + Duration::hours(2)).await, money("3.10"));
    assert_eq!(
        store.purchase(early.id()).await.unwrap().total(),
        money("1.50"),
        "a recorded purchase keeps its price"
    );
    assert_eq!(store.products().await.unwrap()[0].price(), money("2.00"));

    let history = store.price_history(product(MILK)).await.unwrap();
    let prices: Vec<_> = history
        .prices
        .iter()
        .map(|point| (point.price, point.effective_from))
        .collect();
    assert_eq!(
        prices,
        [
            (money("1.50"), None),
            (money("2.00"), Some(day(5))),
            (money("3.10"), Some(future.effective_from)),
        ]
    );
    // The same instant again replaces its price.
    let corrected = PriceChange::new(money("2.05"), day(5));
    let history = store
        .change_price(product(MILK), &corrected, &Origin::system())
        .await
        .unwrap();
    assert_eq!(history.prices.len(), 3);
    assert_eq!(history.price_at(day(6)), Some(money("2.05")));
    let statistics = store.statistics(&Filter::ALL).await.unwrap();
    assert_eq!(statistics.total_revenue, money("10.10"));
    assert_eq!(
        kinds(store).await,
        [AuditKind::PriceChanged; 3],
        "every change is audited"
    );
}

/// A retired product is refused at sale from its retirement on, with a sentence, writing
/// nothing; a sale made before it (handed in late) is taken; it leaves the listed catalog but
/// keeps its history and its past sales' analytics; retiring twice changes nothing more.
pub async fn a_retired_product_is_refused_at_sale(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    store
        .record_purchase(new_purchase(1, CustomerRef::New, &[EGGS], day(0)))
        .await
        .unwrap();
    let retired = store
        .retire_product(product(EGGS), &Origin::system())
        .await
        .unwrap();
    let retired_at = retired.retired_at.expect("retired now");
    let again = store
        .retire_product(product(EGGS), &Origin::system())
        .await
        .unwrap();
    assert_eq!(again.retired_at, Some(retired_at), "retiring is idempotent");

    let refused = store
        .record_purchase(new_purchase(1, CustomerRef::New, &[MILK, EGGS], Utc::now()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            Error::Invalid(ValidationError::ProductRetired { product, .. }) if product.get() == EGGS
        ),
        "{refused:?}"
    );
    assert!(
        refused.to_string().contains("can no longer be sold"),
        "{refused}"
    );
    let late = store
        .record_purchase(new_purchase(2, CustomerRef::New, &[EGGS], day(1)))
        .await
        .unwrap();
    assert_eq!(late.total(), money("3"));

    let listed: Vec<i32> = store
        .products()
        .await
        .unwrap()
        .iter()
        .map(|p| p.id().get())
        .collect();
    assert!(!listed.contains(&EGGS), "{listed:?}");
    let history = store.price_history(product(EGGS)).await.unwrap();
    assert_eq!(history.prices.len(), 1);
    let sales = store.product_sales(&Filter::ALL).await.unwrap();
    let eggs = sales.iter().find(|s| s.product.get() == EGGS).unwrap();
    assert_eq!((eggs.units_sold, eggs.name.as_str()), (2, "eggs"));
    assert_eq!(
        store
            .statistics(&Filter::ALL)
            .await
            .unwrap()
            .total_purchases,
        2
    );

    let change = PriceChange::new(money("9"), Utc::now());
    let refused = store
        .change_price(product(EGGS), &change, &Origin::system())
        .await;
    assert!(matches!(refused, Err(Error::Conflict(_))), "{refused:?}");
    assert_eq!(kinds(store).await, [AuditKind::ProductRetired]);
}

/// A product added now was not for sale before: a sale dated earlier is refused with a
/// sentence, and so is a price dated before the product was added; unknown products are not
/// found.
pub async fn a_product_cannot_be_sold_before_it_was_added(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    let tea = NewProduct::new("tea", money("4.20")).unwrap();
    let tea = store.add_product(&tea, &Origin::system()).await.unwrap();
    let refused = store
        .record_purchase(new_purchase(1, CustomerRef::New, &[MILK, 7], day(0)))
        .await
        .unwrap_err();
    assert!(
        matches!(refused, Error::Invalid(ValidationError::ProductNotYetAdded { product, .. }) if product == tea.id()),
        "{refused:?}"
    );
    assert!(
        refused.to_string().contains("was not in the catalog yet"),
        "{refused}"
    );
    assert_nothing_written(store).await;

    let early = PriceChange::new(money("1"), day(0));
    let refused = store
        .change_price(tea.id(), &early, &Origin::system())
        .await;
    assert!(
        matches!(
            refused,
            Err(Error::Invalid(ValidationError::PriceBeforeAdded { .. }))
        ),
        "{refused:?}"
    );
    assert_eq!(store.price_history(tea.id()).await.unwrap().prices.len(), 1);
    for missing in [
        store.price_history(product(99)).await.err(),
        store
            .retire_product(product(99), &Origin::system())
            .await
            .err(),
        store
            .change_price(product(99), &early, &Origin::system())
            .await
            .err(),
    ] {
        assert!(
            matches!(missing, Some(Error::NotFound { .. })),
            "{missing:?}"
        );
    }
    assert_eq!(kinds(store).await, [AuditKind::ProductAdded]);
}
