//! API keys and the audit trail: keys authenticate until revoked, and every change is audited
//! with its author, in the same atomic operation.

use std::net::IpAddr;

use crate::actor::{Actor, Role, Scope};
use crate::audit::{AuditKind, AuditQuery, Origin};
use crate::error::{Error, ValidationError};
use crate::id::{AuditId, BranchId};
use crate::key::{ApiKeySecret, KeyHash, KeyInfo, KeyName, NewKey};
use crate::store::Store;

use super::fixture::branch;

fn name(text: &str) -> KeyName {
    KeyName::new(text).unwrap()
}

fn new_key(text: &str, role: Role, branch: Option<BranchId>) -> NewKey {
    NewKey::new(name(text), role, branch).unwrap()
}

fn client() -> IpAddr {
    "192.0.2.7".parse().unwrap()
}

/// An administrator key made by the system, and the origin of its changes.
async fn admin(store: &dyn Store) -> (Actor, Origin) {
    let (info, _) = store
        .create_key(&new_key("admin", Role::Admin, None), &Origin::system())
        .await
        .unwrap();
    let actor = info.actor();
    (actor.clone(), Origin::actor(actor, Some(client())))
}

async fn all_entries(store: &dyn Store) -> Vec<crate::audit::AuditEntry> {
    store
        .audit_entries(&AuditQuery::new(crate::audit::MAX_PAGE, None).unwrap())
        .await
        .unwrap()
}

/// A created key authenticates as its actor, is listed without its secret, and authenticates
/// no one once revoked; revoking it again changes nothing.
pub async fn a_key_authenticates_until_revoked(store: &dyn Store) {
    assert!(!store.has_keys().await.unwrap());
    let (_, origin) = admin(store).await;
    assert!(store.has_keys().await.unwrap());
    let (till, secret) = store
        .create_key(&new_key("till-7", Role::Till, Some(branch(2))), &origin)
        .await
        .unwrap();
    assert_eq!(till.name, name("till-7"));
    assert_eq!(till.role, Role::Till);
    assert_eq!(till.scope, Scope::Branch(branch(2)));
    assert!(till.is_active());

    let actor = store.authenticate(&secret.hash()).await.unwrap();
    let actor = actor.expect("a new key authenticates");
    assert_eq!(actor, till.actor());
    assert_eq!(actor.name(), &name("till-7"));
    assert_eq!(actor.scope(), Scope::Branch(branch(2)));
    let unknown = ApiKeySecret::generate().hash();
    assert_eq!(store.authenticate(&unknown).await.unwrap(), None);
    assert_eq!(
        store.authenticate(&KeyHash::of("not a key")).await.unwrap(),
        None
    );

    let names: Vec<KeyName> = store
        .keys()
        .await
        .unwrap()
        .into_iter()
        .map(|info| info.name)
        .collect();
    assert_eq!(names, [name("admin"), name("till-7")], "in creation order");

    let revoked = store.revoke_key(&name("till-7"), &origin).await.unwrap();
    let revoked_at = revoked.revoked_at.expect("revoked now");
    assert!(revoked_at >= till.created_at);
    assert_eq!(store.authenticate(&secret.hash()).await.unwrap(), None);
    let listed: Vec<KeyInfo> = store.keys().await.unwrap();
    assert_eq!(listed[1], revoked, "the list shows the revocation");

    let entries = all_entries(store).await.len();
    let again = store.revoke_key(&name("till-7"), &origin).await.unwrap();
    assert_eq!(
        again.revoked_at,
        Some(revoked_at),
        "revoking again is a no-op"
    );
    assert_eq!(
        all_entries(store).await.len(),
        entries,
        "and is not audited"
    );
}

/// A key given its secret from outside (an automation's administrator key) authenticates with
/// that secret.
pub async fn a_key_added_with_its_hash_authenticates(store: &dyn Store) {
    let secret = ApiKeySecret::new("an-administrator-key-from-the-environment").unwrap();
    let info = store
        .add_key(
            &new_key("ops", Role::Admin, None),
            &secret.hash(),
            &Origin::system(),
        )
        .await
        .unwrap();
    let actor = store.authenticate(&secret.hash()).await.unwrap();
    assert_eq!(actor, Some(info.actor()));
    assert_eq!(actor.unwrap().role(), Role::Admin);
    let error = store
        .add_key(
            &new_key("ops-2", Role::Admin, None),
            &secret.hash(),
            &Origin::system(),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Conflict(_)), "{error:?}");
}

/// Names are unique, revoked keys' too; a refused key writes nothing, not even its audit entry.
pub async fn a_key_name_is_never_reused(store: &dyn Store) {
    let (_, origin) = admin(store).await;
    store
        .create_key(&new_key("till-1", Role::Till, Some(branch(1))), &origin)
        .await
        .unwrap();
    let before = all_entries(store).await;
    let error = store
        .create_key(&new_key("till-1", Role::Manager, None), &origin)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Conflict(_)), "{error:?}");
    assert!(error.to_string().contains("\"till-1\""), "{error}");

    store.revoke_key(&name("till-1"), &origin).await.unwrap();
    let before_revoked = all_entries(store).await;
    let error = store
        .create_key(&new_key("till-1", Role::Till, Some(branch(1))), &origin)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Conflict(_)), "{error:?}");
    assert_eq!(store.keys().await.unwrap().len(), 2);
    assert_eq!(all_entries(store).await, before_revoked);
    assert_eq!(before.len() + 1, before_revoked.len());
}

/// A till key needs its branch, and a key's branch must exist; a refused key writes nothing.
pub async fn a_key_for_a_missing_branch_is_refused(store: &dyn Store) {
    let (_, origin) = admin(store).await;
    let before = all_entries(store).await;
    assert_eq!(
        NewKey::new(name("till-x"), Role::Till, None),
        Err(ValidationError::TillWithoutBranch)
    );
    let error = store
        .create_key(&new_key("till-x", Role::Till, Some(branch(99))), &origin)
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::Invalid(ValidationError::UnknownBranch(b)) if b == branch(99)),
        "{error:?}"
    );
    assert_eq!(store.keys().await.unwrap().len(), 1, "only the admin key");
    assert_eq!(all_entries(store).await, before, "no audit entry");
}

/// Revoking a name that no key has is not found, and audits nothing.
pub async fn revoking_an_unknown_key_is_not_found(store: &dyn Store) {
    let (_, origin) = admin(store).await;
    let before = all_entries(store).await;
    let error = store
        .revoke_key(&name("nobody"), &origin)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::NotFound { .. }), "{error:?}");
    assert_eq!(error.to_string(), "API key nobody was not found");
    assert_eq!(all_entries(store).await, before);
}

/// Each change to the keys is in the trail, newest first, with its author and address.
pub async fn key_changes_are_audited_with_their_actor(store: &dyn Store) {
    let (admin, origin) = admin(store).await;
    store
        .create_key(
            &new_key("manager-2", Role::Manager, Some(branch(2))),
            &origin,
        )
        .await
        .unwrap();
    store
        .create_key(&new_key("analyst", Role::Analyst, None), &origin)
        .await
        .unwrap();
    store.revoke_key(&name("manager-2"), &origin).await.unwrap();

    let entries = all_entries(store).await;
    let seen: Vec<(AuditKind, &str, &str)> = entries
        .iter()
        .map(|e| (e.kind, e.target.as_str(), e.details.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            (AuditKind::KeyRevoked, "manager-2", ""),
            (
                AuditKind::KeyCreated,
                "analyst",
                "role analyst, every branch"
            ),
            (AuditKind::KeyCreated, "manager-2", "role manager, branch 2"),
            (AuditKind::KeyCreated, "admin", "role admin, every branch"),
        ]
    );
    for entry in &entries[..3] {
        let by = entry.actor.as_ref().expect("the admin made it");
        assert_eq!((by.key, &by.name), (admin.key(), admin.name()));
        assert_eq!(entry.client, Some(client()));
    }
    let bootstrap = &entries[3];
    assert_eq!(bootstrap.actor, None, "the system made the first key");
    assert_eq!(bootstrap.client, None);
    assert!(
        entries
            .windows(2)
            .all(|w| w[0].id > w[1].id && w[0].at >= w[1].at),
        "newest first"
    );
}

/// The trail reads a page at a time, each page after the previous one's last entry.
pub async fn the_audit_trail_pages(store: &dyn Store) {
    let (_, origin) = admin(store).await;
    for n in 0..6 {
        store
            .create_key(
                &new_key(&format!("till-{n}"), Role::Till, Some(branch(1))),
                &origin,
            )
            .await
            .unwrap();
    }
    let everything: Vec<AuditId> = all_entries(store).await.iter().map(|e| e.id).collect();
    assert_eq!(everything.len(), 7);
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .audit_entries(&AuditQuery::new(3, after).unwrap())
            .await
            .unwrap();
        assert!(page.len() <= 3);
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        paged.extend(page.iter().map(|e| e.id));
    }
    assert_eq!(
        paged, everything,
        "the pages together are the whole trail, once"
    );
    let newest = store
        .audit_entries(&AuditQuery::new(1, None).unwrap())
        .await
        .unwrap();
    assert_eq!(newest[0].target, "till-5");
}
