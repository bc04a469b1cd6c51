//! Prices over time: each product's price history, the rule that prices a sale at the price in
//! force at its sale time, and the products added, repriced and retired while the chain sells.
//!
//! A price is in force from its `effective_from` until the next one's; a sale is priced at the
//! latest price whose `effective_from` is at or before the sale's time. Prices put into the
//! catalog as a whole ([`Catalog::put_products`](crate::Catalog::put_products), the data files)
//! are in force from the start of the history; a product added later was not for sale before
//! it was added, and a retired product is not for sale from its retirement on.

use chrono::{DateTime, SubsecRound, Utc};

use crate::error::{Error, ValidationError};
use crate::id::ProductId;
use crate::money::Money;
use crate::product::Product;
use crate::purchase::PurchaseLine;

/// A price and the instant from which it is in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PricePoint {
    /// The unit price.
    pub price: Money,
    /// From when it is in force; `None`: from the start of the history.
    pub effective_from: Option<DateTime<Utc>>,
}

impl PricePoint {
    /// Whether the price was already set at `at`.
    fn in_force_at(&self, at: DateTime<Utc>) -> bool {
        self.effective_from.is_none_or(|from| from <= at)
    }
}

/// A product with its whole price history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriceHistory {
    /// The product.
    pub product: ProductId,
    /// Its name.
    pub name: String,
    /// When it was added to the catalog; `None` for a product there from the start.
    pub added_at: Option<DateTime<Utc>>,
    /// When it was retired, if it was.
    pub retired_at: Option<DateTime<Utc>>,
    /// Its prices, in the order they take effect (each `effective_from` distinct).
    pub prices: Vec<PricePoint>,
}

impl PriceHistory {
    /// The price in force at `at`: the latest whose `effective_from` is at or before it.
    pub fn price_at(&self, at: DateTime<Utc>) -> Option<Money> {
        self.prices
            .iter()
            .rev()
            .find(|point| point.in_force_at(at))
            .map(|point| point.price)
    }

    /// What the catalog says of the product for a sale made at `at`.
    pub fn at_sale(&self, at: DateTime<Utc>) -> ProductAtSale {
        ProductAtSale {
            product: self.product,
            name: self.name.clone(),
            price: self.price_at(at),
            added_at: self.added_at,
            retired_at: self.retired_at,
        }
    }

    /// The product as the catalog lists it at `now`: its price in force then, or `None` when it
    /// is not on sale (retired, or not priced yet).
    pub fn listed(&self, now: DateTime<Utc>) -> Option<Product> {
        if self.retired_at.is_some_and(|retired| retired <= now) {
            return None;
        }
        let price = self.price_at(now)?;
        Product::new(self.product, &self.name, price).ok()
    }

    /// Checks that `change` may be made: a retired product's prices are history (409), and a
    /// price may not take effect before its product was added (400). Nothing is changed.
    pub fn check_change(&self, change: &PriceChange) -> Result<(), Error> {
        if let Some(retired_at) = self.retired_at {
            return Err(Error::Conflict(format!(
                "product {} was retired at {}: its prices can no longer change",
                self.product,
                retired_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
            )));
        }
        if let Some(added_at) = self.added_at
            && change.effective_from < added_at
        {
            return Err(ValidationError::PriceBeforeAdded {
                product: self.product,
                effective_from: change.effective_from,
                added_at,
            }
            .into());
        }
        Ok(())
    }

    /// Applies `change` (already checked): a price with the same `effective_from` as an
    /// existing one replaces it, as a `PUT` of the same price point does.
    pub fn apply(&mut self, change: &PriceChange) {
        let point = PricePoint {
            price: change.price,
            effective_from: Some(change.effective_from),
        };
        match self
            .prices
            .iter()
            .position(|p| p.effective_from == point.effective_from)
        {
            Some(same) => self.prices[same] = point,
            None => {
                self.prices.push(point);
                self.prices.sort_by_key(|p| p.effective_from);
            }
        }
    }
}

/// What the catalog says of a product for one sale: its price in force at the sale's time, if
/// any, and when it was added and retired. [`ProductAtSale::line`] is the rule every store
/// prices a sale with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductAtSale {
    /// The product.
    pub product: ProductId,
    /// Its name.
    pub name: String,
    /// The price in force at the sale's time; `None` when the product had no price yet.
    pub price: Option<Money>,
    /// When it was added; `None` for a product there from the start of the history.
    pub added_at: Option<DateTime<Utc>>,
    /// When it was retired, if it was.
    pub retired_at: Option<DateTime<Utc>>,
}

impl ProductAtSale {
    /// The line of a sale made at `sold_at`, or why the product could not be sold then: it was
    /// retired at or before that time, or not yet in the catalog.
    pub fn line(&self, sold_at: DateTime<Utc>) -> Result<PurchaseLine, ValidationError> {
        if let Some(retired_at) = self.retired_at
            && retired_at <= sold_at
        {
            return Err(ValidationError::ProductRetired {
                product: self.product,
                retired_at,
            });
        }
        match self.price {
            Some(price) => Ok(PurchaseLine::new(self.product, &self.name, price)),
            None => Err(ValidationError::ProductNotYetAdded {
                product: self.product,
                sold_at,
                added_at: self.added_at.unwrap_or(sold_at),
            }),
        }
    }
}

impl From<&Product> for ProductAtSale {
    /// A product of a catalog without history: its price in force from the start, never
    /// retired.
    fn from(product: &Product) -> ProductAtSale {
        ProductAtSale {
            product: product.id(),
            name: product.name().to_owned(),
            price: Some(product.price()),
            added_at: None,
            retired_at: None,
        }
    }
}

/// A product to add to the catalog while the chain sells: the store gives it the next id, and
/// its first price is in force from the moment it is added.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewProduct {
    name: String,
    price: Money,
}

impl NewProduct {
    /// A product called `name` (trimmed, not empty) at `price`.
    pub fn new(name: &str, price: Money) -> Result<NewProduct, ValidationError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(ValidationError::EmptyProductName);
        }
        Ok(NewProduct {
            name: name.to_owned(),
            price,
        })
    }

    /// Its name, trimmed.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its first price.
    pub fn price(&self) -> Money {
        self.price
    }

    /// The error for a name a product on sale already has.
    pub fn name_taken(&self) -> Error {
        Error::Conflict(format!(
            "a product named {:?} is already on sale; retire it first, or choose another name",
            self.name
        ))
    }
}

/// A new price for a product, in force from `effective_from` (in the past, to price sales
/// still to be handed in by tills that were offline, or in the future).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PriceChange {
    /// The unit price.
    pub price: Money,
    /// From when it is in force, to the microsecond, as stores keep instants.
    pub effective_from: DateTime<Utc>,
}

impl PriceChange {
    /// `price`, in force from `effective_from`.
    pub fn new(price: Money, effective_from: DateTime<Utc>) -> PriceChange {
        PriceChange {
            price,
            effective_from: effective_from.trunc_subsecs(6),
        }
    }
}

/// The error for a product id that is not in the catalog.
pub fn unknown_product(product: ProductId) -> Error {
    Error::NotFound {
        what: "product",
        id: product.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    fn at(hour: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::hours(hour)
    }

    fn history(added_at: Option<DateTime<Utc>>) -> PriceHistory {
        PriceHistory {
            product: ProductId::new(7).unwrap(),
            name: "tea".to_owned(),
            added_at,
            retired_at: None,
            prices: vec![PricePoint {
                price: "1.00".parse().unwrap(),
                effective_from: added_at,
            }],
        }
    }

    #[test]
    fn a_sale_is_priced_at_the_latest_price_in_force_at_its_time() {
        let mut tea = history(None);
        tea.apply(&PriceChange::new("2.00".parse().unwrap(), at(10)));
        tea.apply(&PriceChange::new("1.50".parse().unwrap(), at(5)));
        assert_eq!(tea.price_at(at(-1000)), Some("1.00".parse().unwrap()));
        assert_eq!(tea.price_at(at(5)), Some("1.50".parse().unwrap()));
        assert_eq!(tea.price_at(at(9)), Some("1.50".parse().unwrap()));
        assert_eq!(tea.price_at(at(10)), Some("2.00".parse().unwrap()));
        tea.apply(&PriceChange::new("1.75".parse().unwrap(), at(5)));
        assert_eq!(tea.prices.len(), 3, "the same instant replaces its price");
        assert_eq!(tea.price_at(at(6)), Some("1.75".parse().unwrap()));
    }

    #[test]
    fn a_product_added_later_was_not_for_sale_before() {
        let tea = history(Some(at(3)));
        let refused = tea.at_sale(at(2)).line(at(2)).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "product 7 was not in the catalog yet at 2026-01-01T02:00:00Z: it was added at 2026-01-01T03:00:00Z"
        );
        assert!(tea.at_sale(at(3)).line(at(3)).is_ok());
        let early = PriceChange::new("3".parse().unwrap(), at(1));
        assert!(matches!(
            tea.check_change(&early),
            Err(Error::Invalid(ValidationError::PriceBeforeAdded { .. }))
        ));
    }

    #[test]
    fn a_retired_product_is_not_sold_from_its_retirement_on() {
        let mut tea = history(None);
        tea.retired_at = Some(at(4));
        assert!(tea.at_sale(at(3)).line(at(3)).is_ok());
        let refused = tea.at_sale(at(4)).line(at(4)).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "product 7 was retired at 2026-01-01T04:00:00Z: it can no longer be sold"
        );
        assert_eq!(tea.listed(at(5)), None);
        assert!(matches!(
            tea.check_change(&PriceChange::new("3".parse().unwrap(), at(5))),
            Err(Error::Conflict(_))
        ));
    }
}
