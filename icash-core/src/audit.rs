//! The audit trail: every change that is not a sale, with who made it, when, what, and from
//! which address.
//!
//! A store writes an entry in the same atomic operation as the change it records: a change
//! without its entry, or an entry for a change that failed, is never visible.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::actor::{Actor, Scope};
use crate::error::ValidationError;
use crate::id::{AuditId, KeyId, ProductId};
use crate::key::{KeyName, NewKey};
use crate::price::{NewProduct, PriceChange};
use crate::product::Branch;
use crate::refund::{NewVoid, Refund};

/// How many entries a page of the trail has unless asked otherwise.
pub const DEFAULT_PAGE: u32 = 50;

/// The most entries a page of the trail may have.
pub const MAX_PAGE: u32 = 1000;

/// What kind of change an entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuditKind {
    /// A key was created.
    KeyCreated,
    /// A key was revoked.
    KeyRevoked,
    /// Some of a purchase's lines were refunded.
    PurchaseRefunded,
    /// A purchase was voided.
    PurchaseVoided,
    /// A product was added to the catalog.
    ProductAdded,
    /// A product was given a new price, from an instant on.
    PriceChanged,
    /// A product was retired: it is no longer sold.
    ProductRetired,
    /// A branch's name, time zone or business day changed.
    BranchChanged,
}

impl AuditKind {
    /// Every kind.
    pub const ALL: [AuditKind; 8] = [
        AuditKind::KeyCreated,
        AuditKind::KeyRevoked,
        AuditKind::PurchaseRefunded,
        AuditKind::PurchaseVoided,
        AuditKind::ProductAdded,
        AuditKind::PriceChanged,
        AuditKind::ProductRetired,
        AuditKind::BranchChanged,
    ];

    /// The kind's short name, as the trail shows and stores keep it (`key.created`).
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::KeyCreated => "key.created",
            AuditKind::KeyRevoked => "key.revoked",
            AuditKind::PurchaseRefunded => "purchase.refunded",
            AuditKind::PurchaseVoided => "purchase.voided",
            AuditKind::ProductAdded => "product.added",
            AuditKind::PriceChanged => "price.changed",
            AuditKind::ProductRetired => "product.retired",
            AuditKind::BranchChanged => "branch.changed",
        }
    }
}

impl fmt::Display for AuditKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuditKind {
    type Err = ValidationError;

    /// Parses a kind's short name.
    fn from_str(text: &str) -> Result<AuditKind, ValidationError> {
        AuditKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| ValidationError::InvalidAuditKind(text.to_owned()))
    }
}

/// Who made a change and from where: an actor, or the system itself (the server creating the
/// first administrator key, the command line on the server's machine).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The actor, or `None` for the system.
    pub actor: Option<Actor>,
    /// The client's address, when the change came over the network.
    pub client: Option<IpAddr>,
}

impl Origin {
    /// A change the system makes by itself.
    pub fn system() -> Origin {
        Origin {
            actor: None,
            client: None,
        }
    }

    /// A change `actor` asked for, from `client`.
    pub fn actor(actor: Actor, client: Option<IpAddr>) -> Origin {
        Origin {
            actor: Some(actor),
            client,
        }
    }

    /// The key that made the change, as an entry records it.
    pub fn by(&self) -> Option<AuditActor> {
        self.actor.as_ref().map(|actor| AuditActor {
            key: actor.key(),
            name: actor.name().clone(),
        })
    }
}

/// The key an entry names as its author.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditActor {
    /// The key's id.
    pub key: KeyId,
    /// The key's name (names are never reused, so it names the key for good).
    pub name: KeyName,
}

/// A change as the trail keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// The entry's id: later entries have greater ids.
    pub id: AuditId,
    /// When the change was made.
    pub at: DateTime<Utc>,
    /// Who made it; `None` for the system.
    pub actor: Option<AuditActor>,
    /// What kind of change it was.
    pub kind: AuditKind,
    /// What it changed, such as a key's name.
    pub target: String,
    /// The change's particulars, in a few words (`role till, branch 2`).
    pub details: String,
    /// The address the change came from, when it came over the network.
    pub client: Option<IpAddr>,
}

/// A change to write to the trail, as a store receives it with the change itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAuditEntry {
    /// Who made it and from where.
    pub origin: Origin,
    /// What kind of change it is.
    pub kind: AuditKind,
    /// What it changes.
    pub target: String,
    /// Its particulars.
    pub details: String,
}

impl NewAuditEntry {
    /// The entry for creating `key`.
    pub fn key_created(key: &NewKey, origin: &Origin) -> NewAuditEntry {
        let details = match key.scope() {
            Scope::Branch(branch) => format!("role {}, branch {branch}", key.role()),
            Scope::AllBranches => format!("role {}, every branch", key.role()),
        };
        NewAuditEntry {
            origin: origin.clone(),
            kind: AuditKind::KeyCreated,
            target: key.name().to_string(),
            details,
        }
    }

    /// The entry for revoking the key named `name`.
    pub fn key_revoked(name: &KeyName, origin: &Origin) -> NewAuditEntry {
        NewAuditEntry {
            origin: origin.clone(),
            kind: AuditKind::KeyRevoked,
            target: name.to_string(),
            details: String::new(),
        }
    }

    /// The entry for `refund`.
    pub fn purchase_refunded(refund: &Refund, origin: &Origin) -> NewAuditEntry {
        let products: Vec<String> = refund
            .lines()
            .iter()
            .map(|line| line.product().to_string())
            .collect();
        NewAuditEntry {
            origin: origin.clone(),
            kind: AuditKind::PurchaseRefunded,
            target: format!("purchase {}", refund.purchase()),
            details: format!(
                "refund {}: products {}, amount {}",
                refund.id(),
                products.join(", "),
                refund.amount()
            ),
        }
    }

    /// The entry for `void`.
    pub fn purchase_voided(void: &NewVoid, origin: &Origin) -> NewAuditEntry {
        NewAuditEntry {
            origin: origin.clone(),
            kind: AuditKind::PurchaseVoided,
            target: format!("purchase {}", void.purchase()),
            details: format!("reason: {}", void.reason()),
        }
    }
}

impl NewAuditEntry {
    /// The entry for adding `product` under the id `id`.
    pub fn product_added(id: ProductId, product: &NewProduct, origin: &Origin) -> NewAuditEntry {
        NewAuditEntry {
            origin: origin.clone(),
            kind: AuditKind::ProductAdded,
            target: format!("product {id}"),
            details: format!("{:?} at {}", product.name(), product.price()),
        }
    }

    /// The entry for giving product `id` the price of `change`.
    pub fn price_changed(id: ProductId, change: &PriceChange, origin: &Origin) -> NewAuditEntry {
        NewAuditEntry {
            origin: origin.clone(),
            kind: AuditKind::PriceChanged,
            target: format!("product {id}"),
            details: format!(
                "{} from {}",
                change.price,
                change
                    .effective_from
                    .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
            ),
        }
    }

    /// The entry for retiring product `id`.
    pub fn product_retired(id: ProductId, origin: &Origin) -> NewAuditEntry {
        NewAuditEntry {
            origin: origin.clone(),
            kind: AuditKind::ProductRetired,
            target: format!("product {id}"),
            details: String::new(),
        }
    }
    /// The entry for setting `branch` as it now is.
    pub fn branch_changed(branch: &Branch, origin: &Origin) -> NewAuditEntry {
        NewAuditEntry {
            origin: origin.clone(),
            kind: AuditKind::BranchChanged,
            target: format!("branch {}", branch.id()),
            details: format!(
                "name {:?}, time zone {}, day starts at {}",
                branch.name(),
                branch.time_zone(),
                branch.day_starts_at()
            ),
        }
    }
}

/// Which page of the trail to read, newest entries first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuditQuery {
    /// At most this many entries, from 1 to [`MAX_PAGE`].
    pub limit: u32,
    /// Start after this entry (the previous page's last): the entries older than it.
    pub after: Option<AuditId>,
}

impl AuditQuery {
    /// A page of at most `limit` entries after `after`; `limit` must be 1 to [`MAX_PAGE`].
    pub fn new(limit: u32, after: Option<AuditId>) -> Result<AuditQuery, ValidationError> {
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ValidationError::InvalidPageLimit {
                limit,
                max: MAX_PAGE,
            });
        }
        Ok(AuditQuery { limit, after })
    }

    /// Whether the entry `id` belongs after the cursor.
    pub fn admits(&self, id: AuditId) -> bool {
        self.after.is_none_or(|after| id < after)
    }
}

impl Default for AuditQuery {
    fn default() -> AuditQuery {
        AuditQuery {
            limit: DEFAULT_PAGE,
            after: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in AuditKind::ALL {
            assert_eq!(kind.as_str().parse::<AuditKind>().unwrap(), kind);
        }
        assert!("key.deleted".parse::<AuditKind>().is_err());
    }

    #[test]
    fn a_page_has_a_bounded_size_and_reads_older_entries() {
        assert!(AuditQuery::new(0, None).is_err());
        assert!(AuditQuery::new(MAX_PAGE + 1, None).is_err());
        let query = AuditQuery::new(10, Some(AuditId::new(5).unwrap())).unwrap();
        assert!(query.admits(AuditId::new(4).unwrap()));
        assert!(!query.admits(AuditId::new(5).unwrap()));
        assert!(AuditQuery::default().admits(AuditId::new(99).unwrap()));
        assert_eq!(
            AuditQuery::new(0, None).unwrap_err().to_string(),
            "limit 0 is not valid: expected 1 to 1000"
        );
    }

    #[test]
    fn the_system_has_no_actor() {
        assert_eq!(Origin::system().by(), None);
    }
}
