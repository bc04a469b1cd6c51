//! Small sample files for the tests of the import modules.

use super::parse_products;
use crate::product::Product;

/// A catalog of four products, with a byte-order mark and a name padded with a blank.
pub(super) const PRODUCTS: &str =
    "\u{feff}product_name,unit_price\nmilk,1.5\nbread,2\neggs,3\nOrange Juice ,0.1\n";

/// The header of a purchases file, with a byte-order mark.
pub(super) const HEADER: &str =
    "\u{feff}supermarket_id,timestamp,user_id,items_list,total_amount\n";

/// A purchase row that [`PRODUCTS`] prices correctly.
pub(super) const GOOD_ROW: &str =
    "SMKT003,2025-05-26T19:51:00.539354,01e1e159-8045-43c2-88dd-5682b18bd680,\"eggs,milk\",4.5\n";

/// [`PRODUCTS`], parsed.
pub(super) fn catalog() -> Vec<Product> {
    parse_products(PRODUCTS.as_bytes(), "products_list.csv").unwrap()
}
