//! The catalog of a [`MemoryStore`](super::MemoryStore): each product with its price history.

use std::collections::BTreeMap;

use chrono::{DateTime, SubsecRound, Utc};

use crate::error::{Error, Result};
use crate::id::ProductId;
use crate::price::{
    NewProduct, PriceChange, PriceHistory, PricePoint, ProductAtSale, unknown_product,
};
use crate::product::Product;

/// Every product the store has had, retired ones included, by id.
#[derive(Debug, Default)]
pub(super) struct PriceBook {
    histories: BTreeMap<ProductId, PriceHistory>,
}

/// The store's clock, at the precision stores keep.
pub(super) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

impl PriceBook {
    /// Sets `product` as the data files do: its price in force from the start of the history.
    pub(super) fn put(&mut self, product: &Product) {
        let retired_at = self
            .histories
            .get(&product.id())
            .and_then(|history| history.retired_at);
        self.histories.insert(
            product.id(),
            PriceHistory {
                product: product.id(),
                name: product.name().to_owned(),
                added_at: None,
                retired_at,
                prices: vec![PricePoint {
                    price: product.price(),
                    effective_from: None,
                }],
            },
        );
    }

    /// What the catalog says of `product` for a sale at `at`; `None` for an unknown product.
    pub(super) fn at_sale(&self, product: ProductId, at: DateTime<Utc>) -> Option<ProductAtSale> {
        self.histories
            .get(&product)
            .map(|history| history.at_sale(at))
    }

    /// The products on sale at `now`, at their prices then, in id order.
    pub(super) fn listed(&self, now: DateTime<Utc>) -> Vec<Product> {
        self.histories
            .values()
            .filter_map(|history| history.listed(now))
            .collect()
    }

    /// The product's name, retired or not.
    pub(super) fn name(&self, product: ProductId) -> Option<&str> {
        self.histories
            .get(&product)
            .map(|history| history.name.as_str())
    }

    /// Adds `product` under the next id, priced from `now` on.
    pub(super) fn add(&mut self, product: &NewProduct, now: DateTime<Utc>) -> Result<Product> {
        let key = Product::name_key(product.name());
        if self
            .histories
            .values()
            .any(|history| history.retired_at.is_none() && Product::name_key(&history.name) == key)
        {
            return Err(product.name_taken());
        }
        let next = self
            .histories
            .keys()
            .next_back()
            .map_or(1, |id| id.get() + 1);
        let id = ProductId::new(next)?;
        self.histories.insert(
            id,
            PriceHistory {
                product: id,
                name: product.name().to_owned(),
                added_at: Some(now),
                retired_at: None,
                prices: vec![PricePoint {
                    price: product.price(),
                    effective_from: Some(now),
                }],
            },
        );
        Ok(Product::new(id, product.name(), product.price())?)
    }

    /// Applies `change` to `product`, once checked.
    pub(super) fn change(
        &mut self,
        product: ProductId,
        change: &PriceChange,
    ) -> Result<PriceHistory> {
        let history = self
            .histories
            .get_mut(&product)
            .ok_or_else(|| unknown_product(product))?;
        history.check_change(change)?;
        history.apply(change);
        Ok(history.clone())
    }

    /// Retires `product` at `now`, unless it was already; returns its history and whether it
    /// changed.
    pub(super) fn retire(
        &mut self,
        product: ProductId,
        now: DateTime<Utc>,
    ) -> Result<(PriceHistory, bool)> {
        let history = self
            .histories
            .get_mut(&product)
            .ok_or_else(|| unknown_product(product))?;
        let changed = history.retired_at.is_none();
        if changed {
            history.retired_at = Some(now);
        }
        Ok((history.clone(), changed))
    }

    /// The product's history.
    pub(super) fn history(&self, product: ProductId) -> Result<PriceHistory, Error> {
        self.histories
            .get(&product)
            .cloned()
            .ok_or_else(|| unknown_product(product))
    }
}
