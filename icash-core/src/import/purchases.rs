//! `purchases.csv`: each row a purchase, priced with the catalog and checked against its stated
//! total.

use std::collections::HashMap;
use std::io::Read;

use super::error::{ImportError, RowProblem};
use super::rows::{RowSink, read_rows};
use super::timestamp::parse_timestamp;
use crate::business_day::TimeZone;
use crate::id::{BranchId, CustomerId};
use crate::money::Money;
use crate::product::{Branch, Product};
use crate::purchase::{PricedPurchase, PurchaseLine};

/// Turns the rows of `purchases.csv` into priced purchases, checked against a catalog and the
/// chain's branches.
pub struct PurchaseParser {
    file: String,
    products: HashMap<String, Product>,
    /// The chain's branches, each with the zone its file times are read in.
    branches: HashMap<BranchId, TimeZone>,
}

impl PurchaseParser {
    /// A parser for the rows of `file`, pricing them with `products` and admitting the purchases
    /// made at `branches`, whose times without a zone are read in the branch's zone.
    pub fn new(file: &str, products: &[Product], branches: &[Branch]) -> PurchaseParser {
        PurchaseParser {
            file: file.to_owned(),
            products: products
                .iter()
                .map(|p| (Product::name_key(p.name()), p.clone()))
                .collect(),
            branches: branches
                .iter()
                .map(|branch| (branch.id(), branch.time_zone()))
                .collect(),
        }
    }

    /// Parses the whole stream into `sink`.
    pub fn parse(
        &self,
        input: impl Read,
        sink: &mut impl RowSink<PricedPurchase>,
    ) -> Result<(), ImportError> {
        read_rows(
            input,
            &self.file,
            [
                "supermarket_id",
                "timestamp",
                "user_id",
                "items_list",
                "total_amount",
            ],
            |[branch, at, customer, items, total]| {
                self.parse_row(branch, at, customer, items, total)
            },
            sink,
        )
    }

    fn parse_row(
        &self,
        branch: &str,
        at: &str,
        customer: &str,
        items: &str,
        total: &str,
    ) -> Result<PricedPurchase, RowProblem> {
        let unknown_branch = || RowProblem::UnknownBranch(branch.to_owned());
        let branch = BranchId::from_code(branch).map_err(|_| unknown_branch())?;
        let zone = *self.branches.get(&branch).ok_or_else(unknown_branch)?;
        let at = parse_timestamp(at, zone)?;
        let customer: CustomerId = customer
            .parse()
            .map_err(|_| RowProblem::MalformedCustomerId(customer.to_owned()))?;
        let stated: Money = total
            .parse()
            .map_err(|_| RowProblem::MalformedAmount(total.to_owned()))?;

        let mut lines: Vec<PurchaseLine> = Vec::new();
        for name in items
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
        {
            // A name already in key form (the usual case) is looked up as it is, without
            // allocating its lowercase copy.
            let product = self
                .products
                .get(name)
                .or_else(|| self.products.get(&Product::name_key(name)))
                .ok_or_else(|| RowProblem::UnknownProduct(name.to_owned()))?;
            if lines.iter().any(|line| line.product() == product.id()) {
                return Err(RowProblem::ProductNamedTwice(name.to_owned()));
            }
            lines.push(PurchaseLine::new(
                product.id(),
                product.name(),
                product.price(),
            ));
        }
        if lines.is_empty() {
            return Err(RowProblem::NoItems);
        }
        let purchase = PricedPurchase::new(branch, customer, at, lines)
            .map_err(|error| RowProblem::Unreadable(error.to_string()))?;
        if purchase.total() != stated {
            return Err(RowProblem::TotalMismatch {
                stated,
                computed: purchase.total(),
            });
        }
        Ok(purchase)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::samples::{GOOD_ROW, HEADER, catalog};
    use crate::import::{Collected, RowError};

    fn parse(rows: &str) -> Collected<PricedPurchase> {
        let parser = PurchaseParser::new("purchases.csv", &catalog(), &Branch::defaults());
        let mut collected = Collected::default();
        parser
            .parse(format!("{HEADER}{rows}").as_bytes(), &mut collected)
            .unwrap();
        collected
    }

    fn problem(row: &str) -> RowProblem {
        let collected = parse(row);
        assert!(collected.good.is_empty(), "{row} should be refused");
        assert_eq!(collected.bad.count, 1);
        let error = collected.bad.rows[0].clone();
        assert_eq!((error.file.as_str(), error.line), ("purchases.csv", 2));
        error.problem
    }

    #[test]
    fn a_good_row_becomes_a_priced_purchase() {
        let collected = parse(GOOD_ROW);
        assert!(collected.bad.is_empty(), "{}", collected.bad);
        let purchase = &collected.good[0];
        assert_eq!(purchase.branch().get(), 3);
        assert_eq!(
            purchase.at().to_rfc3339(),
            "2025-05-26T19:51:00.539354+00:00"
        );
        assert_eq!(
            purchase.customer().to_string(),
            "01e1e159-8045-43c2-88dd-5682b18bd680"
        );
        let names: Vec<&str> = purchase.lines().iter().map(PurchaseLine::name).collect();
        assert_eq!(names, ["eggs", "milk"]);
        assert_eq!(purchase.total(), "4.5".parse().unwrap());
    }

    #[test]
    fn names_match_trimmed_and_case_insensitively() {
        let collected = parse(
            "SMKT1,2025-01-02 03:04:05,01e1e159-8045-43c2-88dd-5682b18bd680,\" EGGS , orange juice\",3.10\n",
        );
        assert!(collected.bad.is_empty(), "{}", collected.bad);
        let names: Vec<&str> = collected.good[0]
            .lines()
            .iter()
            .map(PurchaseLine::name)
            .collect();
        assert_eq!(names, ["eggs", "Orange Juice"]);
    }

    #[test]
    fn timestamps_with_a_zone_are_converted_to_utc() {
        let collected = parse(
            "SMKT001,2025-01-02T03:04:05+02:00,01e1e159-8045-43c2-88dd-5682b18bd680,milk,1.5\n",
        );
        assert_eq!(
            collected.good[0].at().to_rfc3339(),
            "2025-01-02T01:04:05+00:00"
        );
    }

    #[test]
    fn each_bad_row_names_its_reason() {
        let uuid = "01e1e159-8045-43c2-88dd-5682b18bd680";
        let at = "2025-05-26T19:51:00";
        assert_eq!(
            problem(&format!("SMKT001,{at},{uuid},\"milk,caviar\",1.5\n")),
            RowProblem::UnknownProduct("caviar".into())
        );
        assert_eq!(
            problem(&format!("SMKT009,{at},{uuid},milk,1.5\n")),
            RowProblem::UnknownBranch("SMKT009".into())
        );
        assert_eq!(
            problem(&format!("STORE1,{at},{uuid},milk,1.5\n")),
            RowProblem::UnknownBranch("STORE1".into())
        );
        assert_eq!(
            problem(&format!("SMKT001,{at},not-a-uuid,milk,1.5\n")),
            RowProblem::MalformedCustomerId("not-a-uuid".into())
        );
        assert_eq!(
            problem(&format!("SMKT001,yesterday,{uuid},milk,1.5\n")),
            RowProblem::MalformedTimestamp("yesterday".into())
        );
        assert_eq!(
            problem(&format!("SMKT001,{at},{uuid},\"milk,MILK\",3\n")),
            RowProblem::ProductNamedTwice("MILK".into())
        );
        assert_eq!(
            problem(&format!("SMKT001,{at},{uuid},\"\",0\n")),
            RowProblem::NoItems
        );
        assert_eq!(
            problem(&format!("SMKT001,{at},{uuid},milk,1.5x\n")),
            RowProblem::MalformedAmount("1.5x".into())
        );
        assert_eq!(
            problem(&format!("SMKT001,{at},{uuid},\"eggs,milk\",4.4\n")),
            RowProblem::TotalMismatch {
                stated: "4.4".parse().unwrap(),
                computed: "4.5".parse().unwrap()
            }
        );
        assert!(matches!(
            problem(&format!("SMKT001,{at},{uuid},milk\n")),
            RowProblem::Unreadable(_)
        ));
        let message = RowError {
            file: "purchases.csv".into(),
            line: 7,
            problem: RowProblem::UnknownProduct("caviar".into()),
        };
        assert_eq!(
            message.to_string(),
            "purchases.csv, line 7: unknown product \"caviar\""
        );
    }

    #[test]
    fn invalid_utf8_is_a_bad_row_not_a_failure() {
        let parser = PurchaseParser::new(
            "purchases.csv",
            &catalog(),
            &[Branch::new(BranchId::new(3).unwrap())],
        );
        let mut input = HEADER.as_bytes().to_vec();
        input.extend_from_slice(b"SMKT003,2025-05-26T19:51:00,\xff\xfe,milk,1.5\n");
        input.extend_from_slice(GOOD_ROW.as_bytes());
        let mut collected = Collected::default();
        parser.parse(input.as_slice(), &mut collected).unwrap();
        assert_eq!((collected.good.len(), collected.bad.count), (1, 1));
        assert_eq!(collected.bad.rows[0].line, 2);
    }
}
