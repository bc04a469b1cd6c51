//! Units sold and returned per product.

use icash_core::analytics::ProductSales;
use icash_core::{ProductId, Result};
use sqlx::FromRow;

use super::count;

/// Units sold and returned per product that sold or returned any, with its name ([`SalesRow`]):
/// `icash_product_units` reads the totals for the whole history, and months, days, hours and at
/// most two partial hours of purchases (less the voided ones) for a period, with the lines of
/// the purchases the rollup has not folded yet (see the `period_functions`, `refunds_and_voids`
/// and `sales_and_units_rollup` migrations), `icash_product_returns` the returns'
/// totals or the refunds made in the period, so one text serves every shape of filter.
/// Parameters: the filter.
pub(super) const PRODUCT_UNITS: &str = include_str!("sql/product_units.sql");

/// A row of [`PRODUCT_UNITS`].
#[derive(FromRow)]
pub(super) struct SalesRow {
    pub(super) product_id: i32,
    pub(super) name: String,
    pub(super) units_sold: i64,
    pub(super) units_returned: i64,
}

impl SalesRow {
    /// The product's sales, in the domain's types.
    pub(super) fn sales(self) -> Result<ProductSales> {
        Ok(ProductSales {
            product: ProductId::new(self.product_id)?,
            name: self.name,
            units_sold: count(self.units_sold),
            units_returned: count(self.units_returned),
        })
    }
}
