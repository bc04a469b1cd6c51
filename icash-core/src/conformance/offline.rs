//! Tills that were offline: purchases with the till's own id, recorded once for good, in
//! batches whose purchases each stand or fall alone, and late sales counted where they were
//! made.

use chrono::{Duration, TimeZone, Utc};
use futures::future::join_all;
use uuid::Uuid;

use crate::analytics::Filter;
use crate::error::{Error, ValidationError};
use crate::id::{ClientId, CustomerRef, PurchaseId};
use crate::idempotency::Recorded;
use crate::key::KeyName;
use crate::offline::BatchOutcome;
use crate::purchase::NewPurchase;
use crate::store::Store;

use super::fixture::*;

fn client(n: u128) -> Option<ClientId> {
    Some(ClientId::from_uuid(Uuid::from_u128(0xc1_0000 + n)))
}

fn till(name: &str) -> Option<KeyName> {
    Some(KeyName::new(name).unwrap())
}

/// A purchase with a client id is recorded once per recording key: sent again, even much
/// later and with another sale time, it answers with the purchase recorded first; the same
/// client id from another key, or without a key, is another purchase.
pub async fn a_client_id_is_recorded_once_for_good(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    let sale = |by: &str, at| {
        new_purchase(1, CustomerRef::New, &[MILK, EGGS], at)
            .with_client_id(client(1))
            .recorded_by(till(by))
    };
    let first = store.record(sale("till-1", day(0)), None).await.unwrap();
    assert!(matches!(first, Recorded::Created(_)), "{first:?}");
    assert_eq!(first.purchase().details().client_id(), client(1));
    let again = store.record(sale("till-1", day(9)), None).await.unwrap();
    assert!(matches!(again, Recorded::Resent(_)), "{again:?}");
    assert_eq!(
        again.purchase(),
        first.purchase(),
        "the same purchase, customer included"
    );
    assert_eq!(purchase_count(store).await, 1);

    let other = store.record(sale("till-2", day(0)), None).await.unwrap();
    assert!(matches!(other, Recorded::Created(_)));
    let open = new_purchase(1, CustomerRef::New, &[MILK], day(0)).with_client_id(client(1));
    let unauthenticated = store.record(open.clone(), None).await.unwrap();
    assert!(matches!(unauthenticated, Recorded::Created(_)));
    assert!(store.record(open, None).await.unwrap().is_replay());
    assert_eq!(purchase_count(store).await, 3);
}

/// A batch answers one outcome per purchase, in order: recorded, already recorded (before, or
/// earlier in the batch), or refused with its reason, the refused ones writing nothing.
pub async fn a_batch_stands_or_falls_per_purchase(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    let sale = |n: u128, items: &[i32]| {
        new_purchase(2, CustomerRef::New, items, day(n as i64)).with_client_id(client(n))
    };
    let before = store.record_purchase(sale(1, &[MILK])).await.unwrap();
    let unknown_branch = NewPurchase::new(
        branch(9),
        CustomerRef::New,
        vec![crate::ProductId::new(MILK).unwrap()],
        day(0),
    )
    .unwrap()
    .with_client_id(client(5));
    let outcomes = store
        .record_batch(vec![
            sale(1, &[MILK]),
            sale(2, &[BREAD, EGGS]),
            sale(3, &[MILK, 99]),
            sale(2, &[BREAD, EGGS]),
            unknown_branch,
            sale(4, &[GUM]),
        ])
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 6);
    assert!(matches!(outcomes[0], BatchOutcome::AlreadyRecorded(id) if id == before.id()));
    let BatchOutcome::Recorded(second) = outcomes[1] else {
        panic!("{:?}", outcomes[1]);
    };
    assert!(matches!(
        &outcomes[2],
        BatchOutcome::Refused(Error::Invalid(ValidationError::UnknownProduct(p))) if p.get() == 99
    ));
    assert!(matches!(outcomes[3], BatchOutcome::AlreadyRecorded(id) if id == second));
    assert!(matches!(
        &outcomes[4],
        BatchOutcome::Refused(Error::Invalid(ValidationError::UnknownBranch(b))) if b.get() == 9
    ));
    assert!(matches!(outcomes[5], BatchOutcome::Recorded(_)));
    let recorded = store.purchase(second).await.unwrap();
    assert_eq!(recorded.total(), money("5"));
    assert_eq!(recorded.details().at(), day(2));
    assert_eq!(purchase_count(store).await, 3);
    let statistics = store.statistics(&Filter::ALL).await.unwrap();
    assert_eq!(statistics.total_revenue, money("6.6"));
}

/// The same batch sent several times at once records each purchase once: every answer names
/// the same purchase for a client id.
pub async fn concurrent_duplicate_batches_record_each_purchase_once(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    let batch = || {
        (0..40u128)
            .map(|n| {
                let customer = CustomerRef::Known(customer(100 + n % 7));
                new_purchase(
                    1 + (n % 3) as i32,
                    customer,
                    &[MILK, BREAD],
                    day((n % 5) as i64),
                )
                .with_client_id(client(n))
                .recorded_by(till("till-1"))
            })
            .collect::<Vec<_>>()
    };
    let answers = join_all((0..4).map(|_| store.record_batch(batch()))).await;
    let ids: Vec<Vec<PurchaseId>> = answers
        .into_iter()
        .map(|outcomes| {
            outcomes
                .unwrap()
                .iter()
                .map(|outcome| outcome.purchase().expect("every purchase is valid"))
                .collect()
        })
        .collect();
    assert!(ids.windows(2).all(|pair| pair[0] == pair[1]), "{ids:?}");
    assert_eq!(purchase_count(store).await, 40);
    assert_eq!(
        store.statistics(&Filter::ALL).await.unwrap().total_revenue,
        money("140")
    );
    assert_eq!(store.unique_customers(&Filter::ALL).await.unwrap(), 7);
}

/// A purchase handed in late lands in the hour, day and branch it was made in, also an hour
/// whose figures already exist, exactly as if it had arrived on time.
pub async fn a_late_purchase_lands_in_its_hour(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    let hour = Utc.with_ymd_and_hms(2025, 5, 3, 14, 0, 0).unwrap();
    let on_time = new_purchase(2, CustomerRef::Known(customer(A)), &[MILK], hour);
    store.record_purchase(on_time).await.unwrap();
    // Later sales, so that the late one arrives after its hour and day are closed.
    for n in 1..=3 {
        let later = new_purchase(1, CustomerRef::New, &[BREAD], hour + Duration::days(n));
        store.record_purchase(later).await.unwrap();
    }
    let late = new_purchase(
        2,
        CustomerRef::Known(customer(B)),
        &[EGGS, GUM],
        hour + Duration::minutes(40),
    )
    .with_client_id(client(1));
    let outcomes = store.record_batch(vec![late]).await.unwrap();
    assert!(matches!(outcomes[0], BatchOutcome::Recorded(_)));

    let period = |from, to, branch_id: Option<i32>| {
        Filter::new(branch_id.map(branch), Some(from), Some(to)).unwrap()
    };
    let the_hour = period(hour, hour + Duration::hours(1), None);
    let statistics = store.statistics(&the_hour).await.unwrap();
    assert_eq!(
        (statistics.total_purchases, statistics.total_revenue),
        (2, money("4.6"))
    );
    assert_eq!(statistics.unique_customers, 2);
    let day_of = period(
        Utc.with_ymd_and_hms(2025, 5, 3, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2025, 5, 4, 0, 0, 0).unwrap(),
        Some(2),
    );
    let statistics = store.statistics(&day_of).await.unwrap();
    assert_eq!(statistics.total_purchases, 2);
    let eggs: u64 = store
        .product_sales(&the_hour)
        .await
        .unwrap()
        .iter()
        .filter(|sales| sales.product.get() == EGGS)
        .map(|sales| sales.units_sold)
        .sum();
    assert_eq!(eggs, 1);
    let elsewhere = period(hour, hour + Duration::hours(1), Some(1));
    assert_eq!(
        store.statistics(&elsewhere).await.unwrap().total_purchases,
        0
    );
    let branch_two = store.statistics(&Filter::ALL).await.unwrap().by_branch;
    let two = branch_two.iter().find(|b| b.branch == branch(2)).unwrap();
    assert_eq!((two.purchase_count, two.revenue), (2, money("4.6")));
}
