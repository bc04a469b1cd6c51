//! The catalog: products with their current prices, and the chain's branches.

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

/// A branch (supermarket) of the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Branch {
    id: BranchId,
}

impl Branch {
    /// The chain's branches when nothing else is configured: the reference chain had three.
    pub fn defaults() -> Vec<Branch> {
        (1..=3)
            .map(|n| Branch::new(BranchId::new(n).expect("1 to 3 are valid branch ids")))
            .collect()
    }

    /// A branch with the given id.
    pub fn new(id: BranchId) -> Branch {
        Branch { id }
    }

    /// The branch's id.
    pub fn id(&self) -> BranchId {
        self.id
    }

    /// The branch's code in the data files, such as `SMKT001`.
    pub fn code(&self) -> String {
        self.id.code()
    }
}
