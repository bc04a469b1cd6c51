//! `products_list.csv`: the catalog.

use std::collections::HashSet;
use std::io::Read;

use super::error::{ImportError, RowProblem};
use super::rows::{Collected, read_rows};
use crate::id::ProductId;
use crate::money::Money;
use crate::product::Product;

/// Parses `products_list.csv`: a `product_name,unit_price` header, ids given in file order
/// from 1. Any bad row refuses the whole catalog, whatever the policy: purchases are priced
/// against it.
pub fn parse_products(input: impl Read, file: &str) -> Result<Vec<Product>, ImportError> {
    let mut rows = 0;
    let mut names = HashSet::new();
    let mut collected = Collected::default();
    read_rows(
        input,
        file,
        ["product_name", "unit_price"],
        |[name, price]| {
            // Ids follow the file's rows, bad ones included, as the old system numbered them.
            rows += 1;
            let id = ProductId::new(rows).expect("ids count up from 1");
            let price: Money = price
                .parse()
                .map_err(|_| RowProblem::MalformedAmount(price.to_owned()))?;
            let product =
                Product::new(id, name, price).map_err(|_| RowProblem::EmptyProductName)?;
            if !names.insert(Product::name_key(name)) {
                return Err(RowProblem::ProductNamedTwice(name.trim().to_owned()));
            }
            Ok(product)
        },
        &mut collected,
    )?;
    if collected.bad.is_empty() {
        Ok(collected.good)
    } else {
        Err(ImportError::Refused(collected.bad))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::samples::catalog;

    #[test]
    fn products_take_ids_in_file_order_despite_a_byte_order_mark() {
        let products = catalog();
        let summary: Vec<(i32, &str, String)> = products
            .iter()
            .map(|p| (p.id().get(), p.name(), p.price().to_string()))
            .collect();
        assert_eq!(
            summary,
            [
                (1, "milk", "1.50".into()),
                (2, "bread", "2.00".into()),
                (3, "eggs", "3.00".into()),
                (4, "Orange Juice", "0.10".into())
            ]
        );
    }

    #[test]
    fn a_bad_products_file_is_refused_with_its_lines() {
        let input = "product_name,unit_price\nmilk,1.5\n,2\nMILK,3\nbread,abc\n";
        let Err(ImportError::Refused(bad)) = parse_products(input.as_bytes(), "products_list.csv")
        else {
            panic!("a bad catalog must be refused");
        };
        let found: Vec<(u64, RowProblem)> = bad
            .rows
            .iter()
            .map(|r| (r.line, r.problem.clone()))
            .collect();
        assert_eq!(
            found,
            [
                (3, RowProblem::EmptyProductName),
                (4, RowProblem::ProductNamedTwice("MILK".into())),
                (5, RowProblem::MalformedAmount("abc".into())),
            ]
        );
        let missing = parse_products("name,price\nmilk,1\n".as_bytes(), "p.csv").unwrap_err();
        assert_eq!(
            missing.to_string(),
            "p.csv: the header has no column \"product_name\""
        );
    }
}
