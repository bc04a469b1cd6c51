//! Branches: their names, time zones and business days, changed with an audit entry, and the
//! data files' times read in each branch's zone.

use std::io::Cursor;
use std::net::IpAddr;

use chrono::{DateTime, Utc};

use crate::actor::Role;
use crate::analytics::Filter;
use crate::audit::{AuditKind, AuditQuery, Origin};
use crate::business_day::{DayStart, TimeZone};
use crate::error::Error;
use crate::id::BranchId;
use crate::import::{Policy, load};
use crate::key::{KeyName, NewKey};
use crate::product::Branch;
use crate::store::Store;

use super::fixture::branch;

fn zone(name: &str) -> TimeZone {
    name.parse().unwrap()
}

fn start(text: &str) -> DayStart {
    text.parse().unwrap()
}

/// An administrator's origin, from a client address.
async fn admin_origin(store: &dyn Store) -> Origin {
    let key = NewKey::new(KeyName::new("branch-admin").unwrap(), Role::Admin, None).unwrap();
    let (info, _) = store.create_key(&key, &Origin::system()).await.unwrap();
    let client: IpAddr = "192.0.2.9".parse().unwrap();
    Origin::actor(info.actor(), Some(client))
}

/// A fresh store lists its default branches, named by their codes, in UTC from midnight; an
/// admin changes a branch's name, zone and start of day, and the trail tells who did it; a
/// branch the chain lacks is not found and leaves no trace; adding branches that exist keeps
/// their settings.
pub async fn branches_have_names_zones_and_business_days(store: &dyn Store) {
    let branches = store.branches().await.unwrap();
    assert_eq!(branches, Branch::defaults());
    assert_eq!(
        branches
            .iter()
            .map(|b| (b.name(), b.time_zone(), b.day_starts_at()))
            .collect::<Vec<_>>(),
        [
            ("SMKT001", TimeZone::UTC, DayStart::MIDNIGHT),
            ("SMKT002", TimeZone::UTC, DayStart::MIDNIGHT),
            ("SMKT003", TimeZone::UTC, DayStart::MIDNIGHT),
        ]
    );

    let origin = admin_origin(store).await;
    let tel_aviv = Branch::with_settings(
        branch(2),
        "Tel Aviv",
        zone("Asia/Jerusalem"),
        start("04:00"),
    )
    .unwrap();
    assert_eq!(
        store.update_branch(&tel_aviv, &origin).await.unwrap(),
        tel_aviv
    );
    let branches = store.branches().await.unwrap();
    assert_eq!(branches[1], tel_aviv);
    assert_eq!(branches[0], Branch::defaults()[0], "the others unchanged");

    let entries = store.audit_entries(&AuditQuery::default()).await.unwrap();
    let changed = &entries[0];
    assert_eq!(changed.kind, AuditKind::BranchChanged);
    assert_eq!(changed.target, "branch 2");
    assert_eq!(
        changed.details,
        "name \"Tel Aviv\", time zone Asia/Jerusalem, day starts at 04:00"
    );
    assert_eq!(changed.actor, origin.by());
    assert_eq!(changed.client, origin.client);

    let nowhere = Branch::new(BranchId::new(99).unwrap());
    let error = store.update_branch(&nowhere, &origin).await.unwrap_err();
    assert!(matches!(error, Error::NotFound { .. }), "{error:?}");
    let after = store.audit_entries(&AuditQuery::default()).await.unwrap();
    assert_eq!(
        after.len(),
        entries.len(),
        "a refused change is not audited"
    );
    assert_eq!(store.branches().await.unwrap().len(), 3, "nor added");

    // Adding branches never changes those that exist, and a new one keeps its settings.
    let fourth = Branch::new(BranchId::new(4).unwrap()).in_zone(zone("America/New_York"));
    store
        .put_branches(&[Branch::new(branch(2)), fourth.clone()])
        .await
        .unwrap();
    let branches = store.branches().await.unwrap();
    assert_eq!(branches[1], tel_aviv);
    assert_eq!(branches[3], fourth);
}

/// The data files' times, which carry no zone, are read in their branch's zone; a time with a
/// zone keeps it.
pub async fn data_files_are_read_in_their_branchs_zone(store: &dyn Store) {
    let origin = admin_origin(store).await;
    let kathmandu = Branch::new(branch(2)).in_zone(zone("Asia/Kathmandu"));
    store.update_branch(&kathmandu, &origin).await.unwrap();
    let products = "product_name,unit_price\nmilk,1.50\n";
    let purchases = "supermarket_id,timestamp,user_id,items_list,total_amount\n\
        SMKT001,2025-05-01T00:00:00,01e1e159-8045-43c2-88dd-5682b18bd680,milk,1.50\n\
        SMKT002,2025-05-01T00:00:00,01e1e159-8045-43c2-88dd-5682b18bd681,milk,1.50\n\
        SMKT002,2025-05-01T00:00:00+00:00,01e1e159-8045-43c2-88dd-5682b18bd682,milk,1.50\n";
    let report = load(
        store,
        (
            Cursor::new(products.as_bytes().to_vec()),
            "products_list.csv",
        ),
        (Cursor::new(purchases.as_bytes().to_vec()), "purchases.csv"),
        Policy::Strict,
    )
    .await
    .unwrap();
    assert_eq!(report.purchases, 3);

    let count = |from: &str, to: &str, at: i32| {
        let filter = Filter::new(
            Some(branch(at)),
            Some(from.parse::<DateTime<Utc>>().unwrap()),
            Some(to.parse::<DateTime<Utc>>().unwrap()),
        )
        .unwrap();
        async move { store.statistics(&filter).await.unwrap().total_purchases }
    };
    // Kathmandu is 5:45 ahead of UTC: its midnight is 18:15 the day before.
    assert_eq!(
        count("2025-04-30T18:15:00Z", "2025-04-30T18:16:00Z", 2).await,
        1
    );
    assert_eq!(
        count("2025-05-01T00:00:00Z", "2025-05-01T00:01:00Z", 2).await,
        1,
        "the time written with its zone"
    );
    assert_eq!(
        count("2025-05-01T00:00:00Z", "2025-05-01T00:01:00Z", 1).await,
        1,
        "UTC"
    );
}
