//! The servers behind a store, and reads made after a write in one session.

use std::time::Duration;

use crate::actor::Role;
use crate::analytics::Filter;
use crate::audit::Origin;
use crate::consistency::{self, Consistency};
use crate::id::CustomerRef;
use crate::key::{KeyName, NewKey};
use crate::node::NodeRole;
use crate::store::Store;

use super::fixture::*;

/// A store names its servers: exactly one takes the writes, a primary, with no lag; what
/// `/readyz` and `/metrics` show.
pub async fn a_store_names_the_primary_among_its_nodes(store: &dyn Store) {
    let nodes = store.nodes().await.expect("the nodes are known");
    let writers: Vec<_> = nodes.iter().filter(|node| node.writes).collect();
    assert_eq!(writers.len(), 1, "{nodes:?}");
    assert_eq!(writers[0].role, NodeRole::Primary);
    assert_eq!(writers[0].lag, Some(Duration::ZERO));
    assert!(!writers[0].name.is_empty());
}

/// A read sent with the token of a write sees the write; a token the store never made breaks
/// no read. A store that gives a purchase a token gives every other change one too.
pub async fn a_read_with_a_writes_token_sees_the_write(store: &dyn Store) {
    store.put_products(&catalog()).await.unwrap();
    let purchase = new_purchase(2, CustomerRef::New, &[MILK, EGGS], day(0));
    let (recorded, token) = consistency::session(None, store.record_purchase(purchase)).await;
    let recorded = recorded.unwrap();
    let key = NewKey::new(KeyName::new("consistency").unwrap(), Role::Analyst, None).unwrap();
    let (created, key_token) =
        consistency::session(None, store.create_key(&key, &Origin::system())).await;
    created.unwrap();
    assert_eq!(
        key_token.is_some(),
        token.is_some(),
        "{key_token:?} {token:?}"
    );
    let (receipt, _) = consistency::session(token.clone(), store.purchase(recorded.id())).await;
    assert_eq!(receipt.unwrap(), recorded);
    let (statistics, _) = consistency::session(token, store.statistics(&Filter::ALL)).await;
    assert_eq!(statistics.unwrap().total_purchases, 1);

    let foreign = Consistency::parse("not-a-token-of-this-store").unwrap();
    let (receipt, wrote) = consistency::session(Some(foreign), store.purchase(recorded.id())).await;
    assert_eq!(receipt.unwrap(), recorded);
    assert_eq!(wrote, None, "a read writes nothing");
}
