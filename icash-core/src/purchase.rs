//! Purchases: what a till asks to record, how it is priced, and what the store keeps.

use chrono::{DateTime, SubsecRound, Utc};

use crate::error::ValidationError;
use crate::id::{BranchId, CustomerId, CustomerRef, ProductId, PurchaseId};
use crate::key::KeyName;
use crate::money::Money;
use crate::product::Product;

/// The most items one purchase may have. A purchase holds at most one unit of each product, so
/// this only bounds what a hostile client can make a store look up.
pub const MAX_ITEMS: usize = 1_000;

/// A purchase a till asks to record, checked against every rule that needs no catalog: at least
/// one item, at most [`MAX_ITEMS`], and no product twice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPurchase {
    branch: BranchId,
    customer: CustomerRef,
    products: Vec<ProductId>,
    at: DateTime<Utc>,
    recorded_by: Option<KeyName>,
}

impl NewPurchase {
    /// Validates a purchase of one unit of each of `products` at `branch`, made at `at`.
    ///
    /// A repeated product is refused, never merged: the till may have scanned it twice by
    /// mistake, and only the till can tell.
    pub fn new(
        branch: BranchId,
        customer: CustomerRef,
        products: Vec<ProductId>,
        at: DateTime<Utc>,
    ) -> Result<NewPurchase, ValidationError> {
        check_items(products.iter().copied())?;
        Ok(NewPurchase {
            branch,
            customer,
            products,
            at: stored_precision(at),
            recorded_by: None,
        })
    }

    /// The same purchase, made by the key named `key` (`None` when no one is authenticated):
    /// the receipt names it, and the purchase's idempotency key belongs to it.
    pub fn recorded_by(mut self, key: Option<KeyName>) -> NewPurchase {
        self.recorded_by = key;
        self
    }

    /// The key that makes it, if any.
    pub fn recorder(&self) -> Option<&KeyName> {
        self.recorded_by.as_ref()
    }

    /// The branch it is made at.
    pub fn branch(&self) -> BranchId {
        self.branch
    }

    /// Whom it is for.
    pub fn customer(&self) -> CustomerRef {
        self.customer
    }

    /// The products bought, one unit each, in the till's order.
    pub fn products(&self) -> &[ProductId] {
        &self.products
    }

    /// When it was made.
    pub fn at(&self) -> DateTime<Utc> {
        self.at
    }

    /// Prices the purchase against the catalog as it is at this moment, for `customer` (the
    /// resolved [`NewPurchase::customer`]).
    ///
    /// `catalog` looks a product up; every product must exist. Stores call this inside the
    /// same atomic operation that writes the purchase, so the prices are those of the moment
    /// of sale.
    pub fn price<'a>(
        &self,
        customer: CustomerId,
        catalog: impl Fn(ProductId) -> Option<&'a Product>,
    ) -> Result<PricedPurchase, ValidationError> {
        let lines = self
            .products
            .iter()
            .map(|&id| {
                let product = catalog(id).ok_or(ValidationError::UnknownProduct(id))?;
                Ok(PurchaseLine::new(
                    product.id(),
                    product.name(),
                    product.price(),
                ))
            })
            .collect::<Result<Vec<_>, ValidationError>>()?;
        Ok(PricedPurchase::new(self.branch, customer, self.at, lines)?
            .recorded_by(self.recorded_by.clone()))
    }
}

/// Brings an instant to the precision every store keeps: the microsecond. A purchase's answer
/// and its later receipt then show the same instant.
pub(crate) fn stored_precision(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}

/// The rules on a purchase's items, shared by new and priced purchases and by refunds.
pub(crate) fn check_items(
    products: impl ExactSizeIterator<Item = ProductId> + Clone,
) -> Result<(), ValidationError> {
    if products.len() == 0 {
        return Err(ValidationError::NoItems);
    }
    if products.len() > MAX_ITEMS {
        return Err(ValidationError::TooManyItems {
            count: products.len(),
            max: MAX_ITEMS,
        });
    }
    // Compared pairwise, without allocating: a purchase has a few items, and at most
    // MAX_ITEMS; bulk loads check millions of purchases.
    let earlier = products.clone();
    match products
        .enumerate()
        .find(|&(place, id)| earlier.clone().take(place).any(|other| other == id))
    {
        Some((_, repeated)) => Err(ValidationError::DuplicateProduct(repeated)),
        None => Ok(()),
    }
}

/// One unit of a product in a purchase, at the price of the moment of sale.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PurchaseLine {
    product: ProductId,
    name: String,
    unit_price: Money,
}

impl PurchaseLine {
    /// A line for one unit of `product`, called `name`, sold at `unit_price`.
    pub fn new(product: ProductId, name: &str, unit_price: Money) -> PurchaseLine {
        PurchaseLine {
            product,
            name: name.to_owned(),
            unit_price,
        }
    }

    /// The product sold.
    pub fn product(&self) -> ProductId {
        self.product
    }

    /// The product's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The unit price it was sold at.
    pub fn unit_price(&self) -> Money {
        self.unit_price
    }

    /// How many units the line holds: always one, as a customer buys at most one unit of each
    /// product per purchase.
    pub fn quantity(&self) -> u32 {
        1
    }
}

/// A purchase ready to be written: its customer is known and every line has its price.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PricedPurchase {
    branch: BranchId,
    customer: CustomerId,
    at: DateTime<Utc>,
    lines: Vec<PurchaseLine>,
    /// The sum of the lines' prices, added up once.
    total: Money,
    recorded_by: Option<KeyName>,
}

impl PricedPurchase {
    /// A priced purchase; the lines obey the same rules as a [`NewPurchase`]'s items.
    pub fn new(
        branch: BranchId,
        customer: CustomerId,
        at: DateTime<Utc>,
        lines: Vec<PurchaseLine>,
    ) -> Result<PricedPurchase, ValidationError> {
        check_items(lines.iter().map(PurchaseLine::product))?;
        Ok(PricedPurchase {
            branch,
            customer,
            at: stored_precision(at),
            total: lines.iter().map(PurchaseLine::unit_price).sum(),
            lines,
            recorded_by: None,
        })
    }

    /// The same purchase, recorded by the key named `key` (`None` for a purchase loaded from
    /// files or made without authentication).
    pub fn recorded_by(mut self, key: Option<KeyName>) -> PricedPurchase {
        self.recorded_by = key;
        self
    }

    /// The key that recorded it, if any.
    pub fn recorder(&self) -> Option<&KeyName> {
        self.recorded_by.as_ref()
    }

    /// The branch it was made at.
    pub fn branch(&self) -> BranchId {
        self.branch
    }

    /// The customer it belongs to.
    pub fn customer(&self) -> CustomerId {
        self.customer
    }

    /// When it was made.
    pub fn at(&self) -> DateTime<Utc> {
        self.at
    }

    /// Its lines, in the till's order.
    pub fn lines(&self) -> &[PurchaseLine] {
        &self.lines
    }

    /// The amount paid: the exact sum of the lines' prices.
    pub fn total(&self) -> Money {
        self.total
    }
}

/// A purchase the store has recorded, under its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Purchase {
    id: PurchaseId,
    details: PricedPurchase,
}

impl Purchase {
    /// A recorded purchase.
    pub fn new(id: PurchaseId, details: PricedPurchase) -> Purchase {
        Purchase { id, details }
    }

    /// The id the store gave it.
    pub fn id(&self) -> PurchaseId {
        self.id
    }

    /// What was bought, where, when and by whom.
    pub fn details(&self) -> &PricedPurchase {
        &self.details
    }

    /// The amount paid.
    pub fn total(&self) -> Money {
        self.details.total()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(id: i32, name: &str, price: &str) -> Product {
        Product::new(ProductId::new(id).unwrap(), name, price.parse().unwrap()).unwrap()
    }

    fn ids(raw: &[i32]) -> Vec<ProductId> {
        raw.iter().map(|&id| ProductId::new(id).unwrap()).collect()
    }

    fn new_purchase(items: &[i32]) -> Result<NewPurchase, ValidationError> {
        NewPurchase::new(
            BranchId::new(1).unwrap(),
            CustomerRef::New,
            ids(items),
            Utc::now(),
        )
    }

    #[test]
    fn a_purchase_needs_at_least_one_item() {
        assert_eq!(new_purchase(&[]).unwrap_err(), ValidationError::NoItems);
    }

    #[test]
    fn a_repeated_product_is_refused_not_merged() {
        let error = new_purchase(&[1, 2, 1]).unwrap_err();
        assert_eq!(
            error,
            ValidationError::DuplicateProduct(ProductId::new(1).unwrap())
        );
        assert!(
            error
                .to_string()
                .contains("product 1 appears more than once"),
            "{error}"
        );
    }

    #[test]
    fn too_many_items_are_refused() {
        let many: Vec<i32> = (1..=(MAX_ITEMS as i32 + 1)).collect();
        assert!(matches!(
            new_purchase(&many),
            Err(ValidationError::TooManyItems { .. })
        ));
    }

    #[test]
    fn pricing_keeps_each_price_and_sums_exactly() {
        let catalog = [product(1, "milk", "0.1"), product(2, "gum", "0.2")];
        let customer = CustomerId::random();
        let priced = new_purchase(&[2, 1])
            .unwrap()
            .price(customer, |id| catalog.iter().find(|p| p.id() == id))
            .unwrap();
        assert_eq!(priced.total(), "0.3".parse().unwrap());
        assert_eq!(priced.customer(), customer);
        let names: Vec<&str> = priced.lines().iter().map(PurchaseLine::name).collect();
        assert_eq!(names, ["gum", "milk"]);
    }

    #[test]
    fn pricing_refuses_an_unknown_product() {
        let catalog = [product(1, "milk", "1.5")];
        let error = new_purchase(&[1, 9])
            .unwrap()
            .price(CustomerId::random(), |id| {
                catalog.iter().find(|p| p.id() == id)
            })
            .unwrap_err();
        assert_eq!(error.to_string(), "product 9 does not exist");
    }

    #[test]
    fn a_later_price_change_does_not_alter_a_priced_purchase() {
        let mut catalog = [product(1, "milk", "1.5")];
        let priced = new_purchase(&[1])
            .unwrap()
            .price(CustomerId::random(), |id| {
                catalog.iter().find(|p| p.id() == id)
            })
            .unwrap();
        catalog[0] = product(1, "milk", "9.99");
        assert_eq!(priced.total(), "1.5".parse().unwrap());
        assert_eq!(priced.lines()[0].unit_price(), "1.50".parse().unwrap());
    }
}
