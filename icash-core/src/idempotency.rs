//! Idempotent purchases: a till that retries a purchase with the same key gets the first
//! answer back, and nothing is recorded twice.
//!
//! A store keeps each key with the request's [`NewPurchase::fingerprint`] and the purchase it
//! recorded, in the same atomic operation as the purchase, for [`DEFAULT_TTL`] unless configured
//! otherwise. A repeat with the same request replays the recorded purchase (the same id, and the
//! same customer even when the first request asked for a new one); a repeat with another request
//! is a conflict. An expired key is as good as new.

use std::fmt;
use std::time::Duration;

use crate::error::{Error, ValidationError};
use crate::key::KeyName;
use crate::purchase::{NewPurchase, Purchase};

/// How long a store keeps a key unless configured otherwise: a day, as payment APIs do.
pub const DEFAULT_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// The longest key accepted.
pub const MAX_KEY_LENGTH: usize = 255;

/// A client's idempotency key: 1 to 255 visible ASCII characters (a UUID, typically).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Checks a key as the client sent it.
    pub fn new(key: &str) -> Result<IdempotencyKey, ValidationError> {
        let visible = key.bytes().all(|b| b.is_ascii_graphic());
        if key.is_empty() || key.len() > MAX_KEY_LENGTH || !visible {
            return Err(ValidationError::InvalidIdempotencyKey);
        }
        Ok(IdempotencyKey(key.to_owned()))
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The error for a key reused with a different request.
    pub fn reused(&self) -> Error {
        Error::Conflict(format!(
            "idempotency key {:?} was already used for a different purchase; use a new key for a new purchase",
            self.0
        ))
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What recording a purchase did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// The purchase was recorded now.
    Created(Purchase),
    /// The key was seen with the same request: this is the purchase recorded then.
    Replayed(Purchase),
    /// The purchase's client id was recorded before by the same key: this is the purchase
    /// recorded then, and nothing more was recorded.
    Resent(Purchase),
}

impl Recorded {
    /// The purchase, new or replayed.
    pub fn purchase(&self) -> &Purchase {
        match self {
            Recorded::Created(purchase)
            | Recorded::Replayed(purchase)
            | Recorded::Resent(purchase) => purchase,
        }
    }

    /// The purchase, new or replayed.
    pub fn into_purchase(self) -> Purchase {
        match self {
            Recorded::Created(purchase)
            | Recorded::Replayed(purchase)
            | Recorded::Resent(purchase) => purchase,
        }
    }

    /// Whether this answer repeats an earlier one.
    pub fn is_replay(&self) -> bool {
        matches!(self, Recorded::Replayed(_) | Recorded::Resent(_))
    }
}

impl NewPurchase {
    /// Whose idempotency keys the purchase's key is one of: the recording key's name, or the
    /// empty scope of unauthenticated requests. Two tills that send the same key value never
    /// collide, as each key lives in its sender's scope.
    pub fn idempotency_scope(&self) -> &str {
        self.recorder().map_or("", KeyName::as_str)
    }

    /// What makes two requests "the same" for an idempotency key: the branch, the customer as
    /// the till named it, and the products in the till's order. The instant is not part of it:
    /// a retry is made later.
    pub fn fingerprint(&self) -> String {
        let products: Vec<String> = self.products().iter().map(ToString::to_string).collect();
        let customer = match self.customer() {
            crate::CustomerRef::New => crate::CustomerRef::NEW.to_owned(),
            crate::CustomerRef::Known(id) => id.to_string(),
        };
        format!(
            "branch={};customer={customer};products={}",
            self.branch(),
            products.join(",")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BranchId, CustomerRef, ProductId};

    #[test]
    fn keys_are_short_visible_ascii() {
        assert_eq!(
            IdempotencyKey::new("till-7/0042").unwrap().as_str(),
            "till-7/0042"
        );
        let longest = "k".repeat(MAX_KEY_LENGTH);
        assert!(IdempotencyKey::new(&longest).is_ok());
        for bad in ["", " ", "a b", "é", "tab\there", &format!("{longest}k")] {
            assert!(IdempotencyKey::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_fingerprint_ignores_the_instant_but_not_the_request() {
        let purchase = |branch: i32, items: &[i32], at| {
            let products = items
                .iter()
                .map(|&id| ProductId::new(id).unwrap())
                .collect();
            NewPurchase::new(
                BranchId::new(branch).unwrap(),
                CustomerRef::New,
                products,
                at,
            )
            .unwrap()
        };
        let now = chrono::Utc::now();
        let later = now + chrono::Duration::seconds(30);
        assert_eq!(
            purchase(1, &[1, 3], now).fingerprint(),
            purchase(1, &[1, 3], later).fingerprint()
        );
        assert_eq!(
            purchase(1, &[1, 3], now).fingerprint(),
            "branch=1;customer=new;products=1,3"
        );
        assert_ne!(
            purchase(1, &[1, 3], now).fingerprint(),
            purchase(2, &[1, 3], now).fingerprint()
        );
        assert_ne!(
            purchase(1, &[1, 3], now).fingerprint(),
            purchase(1, &[3, 1], now).fingerprint()
        );
    }
}
