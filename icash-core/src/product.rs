//! The catalog: products with their current prices, and the chain's branches.

use crate::business_day::{DayStart, TimeZone};
use crate::error::ValidationError;
use crate::id::{BranchId, ProductId};
use crate::money::Money;

/// A product of the catalog with its current unit price.
///
/// The price may change over time; purchases keep the price of the moment of sale.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Product {
    id: ProductId,
    name: String,
    price: Money,
}

impl Product {
    /// A product; its name is trimmed and must not be empty.
    pub fn new(id: ProductId, name: &str, price: Money) -> Result<Product, ValidationError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(ValidationError::EmptyProductName);
        }
        Ok(Product {
            id,
            name: name.to_owned(),
            price,
        })
    }

    /// The product's id.
    pub fn id(&self) -> ProductId {
        self.id
    }

    /// The product's name, as the catalog spells it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The current unit price.
    pub fn price(&self) -> Money {
        self.price
    }

    /// The key that names are matched on: trimmed and case-insensitive.
    pub fn name_key(name: &str) -> String {
        name.trim().to_lowercase()
    }
}

/// The most characters a branch's name may have.
pub const MAX_BRANCH_NAME: usize = 100;

/// A branch (supermarket) of the chain: its name, and the zone and hour of its business day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Branch {
    id: BranchId,
    name: String,
    time_zone: TimeZone,
    day_starts_at: DayStart,
}

impl Branch {
    /// The chain's branches when nothing else is configured (the reference chain had three),
    /// in UTC.
    pub fn defaults() -> Vec<Branch> {
        Branch::defaults_in(TimeZone::UTC)
    }

    /// The default branches, their business days in `zone` from midnight.
    pub fn defaults_in(zone: TimeZone) -> Vec<Branch> {
        (1..=3)
            .map(|n| {
                Branch::new(BranchId::new(n).expect("1 to 3 are valid branch ids")).in_zone(zone)
            })
            .collect()
    }

    /// A branch with the given id, named by its code, its business day in UTC from midnight.
    pub fn new(id: BranchId) -> Branch {
        Branch {
            id,
            name: id.code(),
            time_zone: TimeZone::UTC,
            day_starts_at: DayStart::MIDNIGHT,
        }
    }

    /// A branch with every setting given; the name must have at most [`MAX_BRANCH_NAME`]
    /// characters, none of them a control character, and is trimmed of spaces, which must leave
    /// at least one.
    pub fn with_settings(
        id: BranchId,
        name: &str,
        time_zone: TimeZone,
        day_starts_at: DayStart,
    ) -> Result<Branch, ValidationError> {
        if name.chars().count() > MAX_BRANCH_NAME {
            return Err(ValidationError::InvalidBranchName {
                max: MAX_BRANCH_NAME,
            });
        }
        let name = name.trim();
        if name.is_empty()
            || name.chars().count() > MAX_BRANCH_NAME
            || name.chars().any(char::is_control)
        {
            return Err(ValidationError::InvalidBranchName {
                max: MAX_BRANCH_NAME,
            });
        }
        Ok(Branch {
            id,
            name: name.to_owned(),
            time_zone,
            day_starts_at,
        })
    }

    /// The same branch, its business day in `zone`.
    pub fn in_zone(mut self, zone: TimeZone) -> Branch {
        self.time_zone = zone;
        self
    }

    /// The branch's id.
    pub fn id(&self) -> BranchId {
        self.id
    }

    /// The branch's code in the data files, such as `SMKT001`.
    pub fn code(&self) -> String {
        self.id.code()
    }

    /// The branch's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The zone of the branch's clocks: its data files' times and its business days are read
    /// in it.
    pub fn time_zone(&self) -> TimeZone {
        self.time_zone
    }

    /// The time of day, in its zone, at which the branch's business day starts.
    pub fn day_starts_at(&self) -> DayStart {
        self.day_starts_at
    }
}
