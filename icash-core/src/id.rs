//! Identifiers of the domain's entities, each its own type so that a product id can never be
//! passed where a branch id is meant.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

use crate::error::ValidationError;

/// Defines a positive integer id newtype with its conversions.
macro_rules! positive_id {
    ($(#[$doc:meta])* $name:ident($int:ty), $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name($int);

        impl $name {
            /// Wraps a raw id, which must be positive.
            pub fn new(raw: $int) -> Result<Self, ValidationError> {
                if raw > 0 {
                    Ok(Self(raw))
                } else {
                    Err(ValidationError::InvalidId { what: $what, value: raw.to_string() })
                }
            }

            /// The raw integer, as stores and wire formats keep it.
            pub fn get(self) -> $int {
                self.0
            }
        }

        impl TryFrom<$int> for $name {
            type Error = ValidationError;

            fn try_from(raw: $int) -> Result<Self, ValidationError> {
                Self::new(raw)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

positive_id!(
    /// A product of the catalog; ids are given in the order of the products file, from 1.
    ProductId(i32),
    "product id"
);
positive_id!(
    /// A branch (supermarket) of the chain: branch `N` is `SMKT00N` in the data files.
    BranchId(i32),
    "supermarket id"
);
positive_id!(
    /// A recorded purchase, numbered by the store in the order purchases are recorded.
    PurchaseId(i64),
    "purchase id"
);

positive_id!(
    /// A refund of some of a purchase's lines, numbered by the store in the order refunds are
    /// made.
    RefundId(i64),
    "refund id"
);

positive_id!(
    /// An API key, numbered by the store in the order keys are created.
    KeyId(i64),
    "key id"
);
positive_id!(
    /// An entry of the audit trail, numbered by the store in the order changes are made.
    AuditId(i64),
    "audit entry id"
);

impl BranchId {
    /// The branch code of the data files, `SMKT` and the number padded to three digits.
    pub fn code(self) -> String {
        format!("SMKT{:03}", self.0)
    }

    /// Parses a branch code such as `SMKT003` (the number may have any width).
    pub fn from_code(code: &str) -> Result<BranchId, ValidationError> {
        let invalid = || ValidationError::InvalidBranchCode(code.to_owned());
        let digits = code.trim().strip_prefix("SMKT").ok_or_else(invalid)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        let number: i32 = digits.parse().map_err(|_| invalid())?;
        BranchId::new(number).map_err(|_| invalid())
    }
}

/// A customer, known only by a UUID (the loyalty card or the till's own id).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CustomerId(Uuid);

impl CustomerId {
    /// Mints a fresh random (version 4) customer id.
    pub fn random() -> CustomerId {
        CustomerId(Uuid::new_v4())
    }

    /// Wraps a UUID that a store or a caller already holds.
    pub fn from_uuid(id: Uuid) -> CustomerId {
        CustomerId(id)
    }

    /// The UUID itself.
    pub fn uuid(self) -> Uuid {
        self.0
    }
}

impl FromStr for CustomerId {
    type Err = ValidationError;

    /// Parses the hyphenated UUID form (`01e1e159-8045-43c2-88dd-5682b18bd680`), in either case.
    fn from_str(text: &str) -> Result<CustomerId, ValidationError> {
        Uuid::try_parse(text.trim())
            .map(CustomerId)
            .map_err(|_| ValidationError::InvalidCustomerId(text.to_owned()))
    }
}

impl fmt::Display for CustomerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// Who a new purchase belongs to: a customer the till names, or a new one the store mints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CustomerRef {
    /// `"new"` on the wire: the store creates a customer id and returns it.
    New,
    /// An existing customer's id (a customer the store has not seen yet is added).
    Known(CustomerId),
}

impl CustomerRef {
    /// The word a till sends to ask for a new customer.
    pub const NEW: &'static str = "new";

    /// The id to record the purchase under, minting one for [`CustomerRef::New`].
    pub fn resolve(self) -> CustomerId {
        match self {
            CustomerRef::New => CustomerId::random(),
            CustomerRef::Known(id) => id,
        }
    }
}

impl FromStr for CustomerRef {
    type Err = ValidationError;

    /// Parses `"new"` or a customer UUID.
    fn from_str(text: &str) -> Result<CustomerRef, ValidationError> {
        if text == CustomerRef::NEW {
            Ok(CustomerRef::New)
        } else {
            text.parse().map(CustomerRef::Known)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_codes_round_trip() {
        assert_eq!(
            BranchId::from_code("SMKT003").unwrap(),
            BranchId::new(3).unwrap()
        );
        assert_eq!(BranchId::from_code("SMKT12").unwrap().get(), 12);
        assert_eq!(BranchId::new(2).unwrap().code(), "SMKT002");
        for bad in ["SMKT", "SMKT000", "smkt001", "SMKT-1", "SMKT1a", "001", ""] {
            let error = BranchId::from_code(bad).unwrap_err();
            assert!(error.to_string().contains("branch code"), "{bad}: {error}");
        }
    }

    #[test]
    fn ids_must_be_positive() {
        assert!(ProductId::new(0).is_err());
        assert!(BranchId::new(-1).is_err());
        assert_eq!(ProductId::new(7).unwrap().get(), 7);
        let error = ProductId::new(0).unwrap_err().to_string();
        assert_eq!(
            error,
            "product id 0 is not valid: ids are positive whole numbers"
        );
    }

    #[test]
    fn customer_refs_are_new_or_a_uuid() {
        assert_eq!("new".parse::<CustomerRef>().unwrap(), CustomerRef::New);
        let known: CustomerRef = "01E1E159-8045-43C2-88DD-5682B18BD680".parse().unwrap();
        let CustomerRef::Known(id) = known else {
            panic!("expected a known customer")
        };
        assert_eq!(id.to_string(), "01e1e159-8045-43c2-88dd-5682b18bd680");
        for bad in ["NEW", "", "01e1e159", "not-a-uuid"] {
            assert!(bad.parse::<CustomerRef>().is_err(), "{bad}");
        }
        assert_ne!(CustomerRef::New.resolve(), CustomerRef::New.resolve());
    }
}
