//! What happens to a sale after it was made: refunds and voids.
//!
//! A refund is a record of its own: some of a purchase's lines, at the unit prices they were
//! sold at, handed back at an instant. The purchase itself never changes, and a line is
//! refunded at most once. A void is a status of the purchase, with who voided it, when and why:
//! a sale recorded by mistake, which stays on record but counts in no analytic, as if it had
//! never been made. A purchase may be voided only while it has no refund, and a voided purchase
//! cannot be refunded, so that a refund always belongs to a sale that counts.
//!
//! The rules are written here once ([`NewRefund::lines`], [`Receipt::check_void`]); a store
//! applies them inside the atomic operation that writes the refund or the void, under a lock
//! that makes two racing requests take their turns.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::error::{Error, Result, ValidationError};
use crate::id::{ProductId, PurchaseId, RefundId};
use crate::idempotency::IdempotencyKey;
use crate::key::KeyName;
use crate::money::Money;
use crate::purchase::{Purchase, PurchaseLine, check_items, stored_precision};

/// The longest reason a void may give, in characters.
pub const MAX_REASON_LENGTH: usize = 500;

/// A refund as it is asked for: some products of a purchase, or (`None`) every line not yet
/// refunded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRefund {
    purchase: PurchaseId,
    products: Option<Vec<ProductId>>,
    at: DateTime<Utc>,
}

impl NewRefund {
    /// Validates a refund of `products` of `purchase` (every line not yet refunded when
    /// `None`), made at `at`: a list names at least one product, none twice.
    pub fn new(
        purchase: PurchaseId,
        products: Option<Vec<ProductId>>,
        at: DateTime<Utc>,
    ) -> Result<NewRefund, ValidationError> {
        if let Some(products) = &products {
            check_items(products.iter().copied())?;
        }
        Ok(NewRefund {
            purchase,
            products,
            at: stored_precision(at),
        })
    }

    /// The purchase refunded.
    pub fn purchase(&self) -> PurchaseId {
        self.purchase
    }

    /// The products asked for, or `None` for every line not yet refunded.
    pub fn products(&self) -> Option<&[ProductId]> {
        self.products.as_deref()
    }

    /// When it is made.
    pub fn at(&self) -> DateTime<Utc> {
        self.at
    }

    /// What makes two requests "the same" for an idempotency key: the purchase and the products
    /// asked for. The instant is not part of it: a retry is made later.
    pub fn fingerprint(&self) -> String {
        let products = match &self.products {
            None => "all".to_owned(),
            Some(products) => products
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(","),
        };
        format!("refund;purchase={};products={products}", self.purchase)
    }

    /// The lines of `receipt`'s purchase this refund takes back, in the receipt's order, at the
    /// prices they were sold at.
    ///
    /// Fails with [`Error::Conflict`] when the purchase is voided, when a product asked for is
    /// not on it or was already refunded, or when nothing is left to refund.
    pub fn lines(&self, receipt: &Receipt) -> Result<Vec<PurchaseLine>> {
        let id = receipt.purchase.id();
        if let PurchaseStatus::Voided(void) = &receipt.status {
            return Err(Error::Conflict(format!(
                "purchase {id} was voided at {}: a voided purchase cannot be refunded",
                void.at.to_rfc3339()
            )));
        }
        let lines = receipt.purchase.details().lines();
        let refunded = |product: ProductId| receipt.refunded_products().any(|p| p == product);
        match &self.products {
            None => {
                let left: Vec<PurchaseLine> = lines
                    .iter()
                    .filter(|line| !refunded(line.product()))
                    .cloned()
                    .collect();
                if left.is_empty() {
                    return Err(Error::Conflict(format!(
                        "every item of purchase {id} was already refunded"
                    )));
                }
                Ok(left)
            }
            Some(products) => {
                for &product in products {
                    if !lines.iter().any(|line| line.product() == product) {
                        return Err(Error::Conflict(format!(
                            "product {product} is not on purchase {id}"
                        )));
                    }
                    if refunded(product) {
                        return Err(Error::Conflict(format!(
                            "product {product} of purchase {id} was already refunded"
                        )));
                    }
                }
                Ok(lines
                    .iter()
                    .filter(|line| products.contains(&line.product()))
                    .cloned()
                    .collect())
            }
        }
    }
}

/// The error for an idempotency key reused with a different refund.
pub fn key_reused_for_another_refund(key: &IdempotencyKey) -> Error {
    Error::Conflict(format!(
        "idempotency key {:?} was already used for a different refund; use a new key for a new refund",
        key.as_str()
    ))
}

/// A refund the store has recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refund {
    id: RefundId,
    purchase: PurchaseId,
    at: DateTime<Utc>,
    lines: Vec<PurchaseLine>,
    amount: Money,
    refunded_by: Option<KeyName>,
}

impl Refund {
    /// A recorded refund of `lines` of `purchase`, made at `at` by the key named `refunded_by`
    /// (`None` without authentication).
    pub fn new(
        id: RefundId,
        purchase: PurchaseId,
        at: DateTime<Utc>,
        lines: Vec<PurchaseLine>,
        refunded_by: Option<KeyName>,
    ) -> Refund {
        Refund {
            id,
            purchase,
            at: stored_precision(at),
            amount: lines.iter().map(PurchaseLine::unit_price).sum(),
            lines,
            refunded_by,
        }
    }

    /// The id the store gave it.
    pub fn id(&self) -> RefundId {
        self.id
    }

    /// The purchase it refunds.
    pub fn purchase(&self) -> PurchaseId {
        self.purchase
    }

    /// When it was made.
    pub fn at(&self) -> DateTime<Utc> {
        self.at
    }

    /// The lines handed back, at the prices they were sold at.
    pub fn lines(&self) -> &[PurchaseLine] {
        &self.lines
    }

    /// The amount paid back: the exact sum of the lines' prices.
    pub fn amount(&self) -> Money {
        self.amount
    }

    /// The key that made it, if any.
    pub fn refunded_by(&self) -> Option<&KeyName> {
        self.refunded_by.as_ref()
    }
}

/// What asking for a refund did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refunded {
    /// The refund was recorded now.
    Created(Refund),
    /// The idempotency key was seen with the same request: this is the refund recorded then.
    Replayed(Refund),
}

impl Refunded {
    /// The refund, new or replayed.
    pub fn refund(&self) -> &Refund {
        match self {
            Refunded::Created(refund) | Refunded::Replayed(refund) => refund,
        }
    }

    /// Whether this answer repeats an earlier one.
    pub fn is_replay(&self) -> bool {
        matches!(self, Refunded::Replayed(_))
    }
}

/// Why a purchase was voided: 1 to [`MAX_REASON_LENGTH`] characters, not only blanks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VoidReason(String);

impl VoidReason {
    /// Checks a reason as the client gave it.
    pub fn new(reason: &str) -> Result<VoidReason, ValidationError> {
        if reason.trim().is_empty() || reason.chars().count() > MAX_REASON_LENGTH {
            return Err(ValidationError::InvalidVoidReason {
                max: MAX_REASON_LENGTH,
            });
        }
        Ok(VoidReason(reason.to_owned()))
    }

    /// The reason.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for VoidReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A void as it is asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewVoid {
    purchase: PurchaseId,
    reason: VoidReason,
    at: DateTime<Utc>,
}

impl NewVoid {
    /// A void of `purchase`, made at `at`, for `reason`.
    pub fn new(purchase: PurchaseId, reason: VoidReason, at: DateTime<Utc>) -> NewVoid {
        NewVoid {
            purchase,
            reason,
            at: stored_precision(at),
        }
    }

    /// The purchase voided.
    pub fn purchase(&self) -> PurchaseId {
        self.purchase
    }

    /// Why.
    pub fn reason(&self) -> &VoidReason {
        &self.reason
    }

    /// When it is made.
    pub fn at(&self) -> DateTime<Utc> {
        self.at
    }
}

/// Who voided a purchase, when and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Void {
    /// When it was voided.
    pub at: DateTime<Utc>,
    /// The key that voided it; `None` without authentication.
    pub voided_by: Option<KeyName>,
    /// Why.
    pub reason: VoidReason,
}

/// Whether a purchase counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PurchaseStatus {
    /// It counts, refunds aside.
    Completed,
    /// It was voided, and counts nowhere.
    Voided(Void),
}

/// A purchase as its receipt shows it: the sale as recorded, its status and its refunds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// The sale as it was recorded.
    pub purchase: Purchase,
    /// Whether it counts.
    pub status: PurchaseStatus,
    /// Its refunds, oldest first.
    pub refunds: Vec<Refund>,
}

impl Receipt {
    /// The products of the purchase already refunded.
    pub fn refunded_products(&self) -> impl Iterator<Item = ProductId> + '_ {
        self.refunds
            .iter()
            .flat_map(Refund::lines)
            .map(PurchaseLine::product)
    }

    /// Allows voiding the purchase, or refuses it with [`Error::Conflict`]: a purchase is voided
    /// once, and only while it has no refund.
    pub fn check_void(&self) -> Result<()> {
        let id = self.purchase.id();
        if let PurchaseStatus::Voided(void) = &self.status {
            return Err(Error::Conflict(format!(
                "purchase {id} was already voided at {}",
                void.at.to_rfc3339()
            )));
        }
        if !self.refunds.is_empty() {
            return Err(Error::Conflict(format!(
                "purchase {id} has refunds: a purchase with a refund cannot be voided"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::{BranchId, CustomerId};
    use crate::purchase::PricedPurchase;

    fn id(n: i32) -> ProductId {
        ProductId::new(n).unwrap()
    }

    fn receipt(refunded: &[i32], voided: bool) -> Receipt {
        let line = |n: i32| PurchaseLine::new(id(n), "p", "1.25".parse().unwrap());
        let purchase = Purchase::new(
            PurchaseId::new(7).unwrap(),
            PricedPurchase::new(
                BranchId::new(1).unwrap(),
                CustomerId::from_uuid(uuid::Uuid::nil()),
                Utc::now(),
                vec![line(1), line(2), line(3)],
            )
            .unwrap(),
        );
        let refunds = refunded
            .iter()
            .map(|&n| {
                Refund::new(
                    RefundId::new(1).unwrap(),
                    purchase.id(),
                    Utc::now(),
                    vec![line(n)],
                    None,
                )
            })
            .collect();
        let status = if voided {
            PurchaseStatus::Voided(Void {
                at: Utc::now(),
                voided_by: None,
                reason: VoidReason::new("typo").unwrap(),
            })
        } else {
            PurchaseStatus::Completed
        };
        Receipt {
            purchase,
            status,
            refunds,
        }
    }

    fn refund(products: Option<&[i32]>) -> NewRefund {
        let products = products.map(|p| p.iter().map(|&n| id(n)).collect());
        NewRefund::new(PurchaseId::new(7).unwrap(), products, Utc::now()).unwrap()
    }

    fn conflict(result: Result<Vec<PurchaseLine>>) -> String {
        match result {
            Err(Error::Conflict(sentence)) => sentence,
            other => panic!("expected a conflict, got {other:?}"),
        }
    }

    #[test]
    fn a_refund_takes_the_lines_asked_for_or_every_line_left() {
        let products = |lines: Vec<PurchaseLine>| -> Vec<i32> {
            lines.iter().map(|l| l.product().get()).collect()
        };
        let fresh = receipt(&[], false);
        assert_eq!(products(refund(Some(&[3, 1])).lines(&fresh).unwrap()), [1, 3]);
        assert_eq!(
            products(refund(None).lines(&receipt(&[2], false)).unwrap()),
            [1, 3]
        );
        assert_eq!(refund(None).lines(&fresh).unwrap().len(), 3);
    }

    #[test]
    fn a_refund_never_takes_a_line_twice_nor_one_not_sold() {
        let partly = receipt(&[2], false);
        assert_eq!(
            conflict(refund(Some(&[2])).lines(&partly)),
            "product 2 of purchase 7 was already refunded"
        );
        assert_eq!(
            conflict(refund(Some(&[9])).lines(&partly)),
            "product 9 is not on purchase 7"
        );
        assert_eq!(
            conflict(refund(None).lines(&receipt(&[1, 2, 3], false))),
            "every item of purchase 7 was already refunded"
        );
        assert!(conflict(refund(None).lines(&receipt(&[], true))).contains("voided"));
        assert_eq!(
            NewRefund::new(PurchaseId::new(7).unwrap(), Some(vec![]), Utc::now()),
            Err(ValidationError::NoItems)
        );
    }

    #[test]
    fn a_void_needs_a_purchase_without_refunds_and_comes_once() {
        assert!(receipt(&[], false).check_void().is_ok());
        assert!(matches!(receipt(&[1], false).check_void(), Err(Error::Conflict(s)) if s.contains("has refunds")));
        assert!(matches!(receipt(&[], true).check_void(), Err(Error::Conflict(s)) if s.contains("already voided")));
    }

    #[test]
    fn a_reason_is_not_blank_nor_too_long() {
        assert!(VoidReason::new("scanned twice").is_ok());
        assert!(VoidReason::new("  ").is_err());
        assert!(VoidReason::new(&"x".repeat(MAX_REASON_LENGTH + 1)).is_err());
        assert!(VoidReason::new(&"é".repeat(MAX_REASON_LENGTH)).is_ok());
    }
}
