//! The customers' counters of a bulk load, summed by the loader as it encodes the purchases.
//!
//! PostgreSQL would otherwise find them with two hash aggregations over every loaded purchase,
//! by customer and by branch and customer, with hashes far larger than the CPU caches, on the
//! one core a load's backend has. Summed here, on the loader's side, as it encodes the
//! purchases, they cost little and go in with COPY.

use std::collections::hash_map;

use chrono::{DateTime, Utc};
use icash_core::{Error, Money, PricedPurchase, Result};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::{CopyRows, FastMap};

/// How many customers plus extra (branch, customer) pairs a load sums in memory by default
/// before handing the sums over as partial sums. An entry is 80 bytes in a table of a power of
/// two of them, and growing the table holds the old one a moment: at most about 145 bytes a
/// customer. The default is large enough that a load of 10 million purchases, by a tenth as many
/// customers, sums them in one pass.
pub(crate) const DEFAULT_LIMIT: usize = 1_800_000;

/// The branches counted in a customer's own entry; most customers shop at a few. A customer's
/// further branches go to a map of their own.
const BRANCH_SLOTS: usize = 3;

/// What a load adds to each customer (purchases, spending, first and last purchase) and to each
/// (branch, customer) pair, summed in memory up to a limit.
///
/// Each purchase touches one entry, its customer's, which holds the counts of the customer's
/// first [`BRANCH_SLOTS`] branches: at a million customers every entry is a cache miss, and one
/// map for customers and another for pairs would pay two misses a purchase.
///
/// The limit keeps memory bounded whatever the files' size: once the customers and extra pairs
/// reach it, the caller hands the sums over ([`CustomerSums::take`]) and starts again. A
/// customer may then have several partial rows, which the load's finish adds up.
pub(crate) struct CustomerSums {
    limit: usize,
    customers: FastMap<Uuid, CustomerSum>,
    /// Purchases per (customer, branch) beyond the customer's branch slots.
    more_branches: FastMap<(Uuid, i32), u32>,
}

/// One customer's sums.
struct CustomerSum {
    purchases: u32,
    first: DateTime<Utc>,
    last: DateTime<Utc>,
    spent_cents: i64,
    /// (branch, purchases) of the customer's first branches; purchases 0 marks a free slot.
    branches: [(i32, u32); BRANCH_SLOTS],
}

impl CustomerSums {
    /// Empty sums that are full at `limit` customers plus extra pairs (at least one).
    pub(crate) fn new(limit: usize) -> CustomerSums {
        CustomerSums {
            limit: limit.max(1),
            customers: FastMap::default(),
            more_branches: FastMap::default(),
        }
    }

    /// Counts one purchase, whose total is `total`.
    pub(crate) fn add(&mut self, purchase: &PricedPurchase, total: Money) -> Result<()> {
        let id = purchase.customer().uuid();
        let at = purchase.at();
        let branch = purchase.branch().get();
        let sum = self.customers.entry(id).or_insert(CustomerSum {
            purchases: 0,
            first: at,
            last: at,
            spent_cents: 0,
            branches: [(0, 0); BRANCH_SLOTS],
        });
        sum.purchases = sum
            .purchases
            .checked_add(1)
            .ok_or_else(|| Error::internal("a customer's purchases overflow a u32"))?;
        sum.spent_cents = sum
            .spent_cents
            .checked_add(total.cents())
            .ok_or_else(|| Error::internal("a customer's spending overflows i64 cents"))?;
        sum.first = sum.first.min(at);
        sum.last = sum.last.max(at);
        match sum
            .branches
            .iter_mut()
            .find(|(slot, count)| *count == 0 || *slot == branch)
        {
            Some(slot) => *slot = (branch, slot.1 + 1),
            None => *self.more_branches.entry((id, branch)).or_default() += 1,
        }
        Ok(())
    }

    /// Whether the sums have reached their limit and should be handed over.
    pub(crate) fn is_full(&self) -> bool {
        self.customers.len() + self.more_branches.len() >= self.limit
    }

    /// Takes the sums out, leaving these empty, as rows to encode.
    pub(crate) fn take(&mut self) -> SummedCustomers {
        SummedCustomers {
            customers: std::mem::take(&mut self.customers).into_iter(),
            more_branches: std::mem::take(&mut self.more_branches).into_iter(),
        }
    }
}

/// Sums taken out of [`CustomerSums`], encoded a chunk at a time so that their encoding never
/// holds a second copy of them all.
pub(crate) struct SummedCustomers {
    customers: hash_map::IntoIter<Uuid, CustomerSum>,
    more_branches: hash_map::IntoIter<(Uuid, i32), u32>,
}

/// A chunk of [`SummedCustomers`] in binary COPY format, for the load's staging tables.
pub(crate) struct CustomerRows {
    /// Rows of (id, purchases, spent, first purchase, last purchase).
    pub(crate) customers: Vec<u8>,
    /// Rows of (branch id, customer id, purchases).
    pub(crate) branches: Vec<u8>,
}

impl SummedCustomers {
    /// Encodes up to `rows` customers, with their slotted branches, and `rows` extra pairs not
    /// encoded yet; `None` once all are.
    pub(crate) fn next_rows(&mut self, rows: usize) -> Result<Option<CustomerRows>> {
        let mut customer_rows = CopyRows::new(rows * 72);
        let mut pair_rows = CopyRows::new(rows * 42);
        let mut empty = true;
        let pair = |pair_rows: &mut CopyRows, branch: i32, id: &Uuid, purchases: u32| {
            pair_rows.row(3);
            pair_rows.field(&branch)?;
            pair_rows.field(id)?;
            pair_rows.field(&i64::from(purchases))
        };
        for (id, sum) in self.customers.by_ref().take(rows) {
            empty = false;
            customer_rows.row(5);
            customer_rows.field(&id)?;
            customer_rows.field(&i64::from(sum.purchases))?;
            customer_rows.field(&Decimal::new(sum.spent_cents, 2))?;
            customer_rows.field(&sum.first)?;
            customer_rows.field(&sum.last)?;
            for &(branch, purchases) in sum.branches.iter().filter(|(_, count)| *count > 0) {
                pair(&mut pair_rows, branch, &id, purchases)?;
            }
        }
        for ((id, branch), purchases) in self.more_branches.by_ref().take(rows) {
            empty = false;
            pair(&mut pair_rows, branch, &id, purchases)?;
        }
        if empty {
            return Ok(None);
        }
        Ok(Some(CustomerRows {
            customers: customer_rows.finish(),
            branches: pair_rows.finish(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use icash_core::{BranchId, CustomerId, ProductId, PurchaseLine};

    use super::*;

    fn purchase(customer: Uuid, branch: i32, day: u32, cents: u64) -> PricedPurchase {
        let line = PurchaseLine::new(ProductId::new(1).unwrap(), "milk", Money::from_cents(cents));
        PricedPurchase::new(
            BranchId::new(branch).unwrap(),
            CustomerId::from_uuid(customer),
            Utc.with_ymd_and_hms(2025, 1, day, 12, 0, 0).unwrap(),
            vec![line],
        )
        .unwrap()
    }

    fn add(sums: &mut CustomerSums, purchase: &PricedPurchase) {
        sums.add(purchase, purchase.total()).unwrap();
    }

    #[test]
    fn sums_each_customer_and_each_branch_of_a_customer() {
        let (ann, bob) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let mut sums = CustomerSums::new(100);
        add(&mut sums, &purchase(ann, 1, 5, 150));
        add(&mut sums, &purchase(bob, 2, 3, 200));
        add(&mut sums, &purchase(ann, 2, 2, 250));
        add(&mut sums, &purchase(ann, 1, 9, 100));
        // Ann's third and fourth branches: one in her last slot, one beyond.
        add(&mut sums, &purchase(ann, 3, 4, 100));
        add(&mut sums, &purchase(ann, 4, 4, 100));
        add(&mut sums, &purchase(ann, 4, 6, 100));

        let ann_sum = &sums.customers[&ann];
        assert_eq!((ann_sum.purchases, ann_sum.spent_cents), (6, 800));
        assert_eq!(
            (
                ann_sum.first.format("%d").to_string(),
                ann_sum.last.format("%d").to_string()
            ),
            ("02".to_owned(), "09".to_owned())
        );
        assert_eq!(ann_sum.branches, [(1, 2), (2, 1), (3, 1)]);
        assert_eq!(sums.more_branches[&(ann, 4)], 2);
        assert_eq!(sums.customers[&bob].branches, [(2, 1), (0, 0), (0, 0)]);
        // Two customers and one extra pair.
        assert!(!sums.is_full());
        assert!(CustomerSums { limit: 3, ..sums }.is_full());
    }

    #[test]
    fn takes_the_sums_out_in_chunks_and_starts_again_empty() {
        let mut sums = CustomerSums::new(100);
        for n in 0..5u128 {
            add(&mut sums, &purchase(Uuid::from_u128(n), 1, 1, 100));
        }
        let mut taken = sums.take();
        assert!(sums.customers.is_empty() && sums.more_branches.is_empty());

        let mut chunks = Vec::new();
        while let Some(rows) = taken.next_rows(2).unwrap() {
            chunks.push(rows);
        }
        assert_eq!(chunks.len(), 3, "5 customers, 2 a chunk");
        // Each chunk is a whole COPY: header, rows, trailer. A customer row is 2 bytes of field
        // count and 5 length-prefixed values, a pair row 3 values.
        let last = chunks.last().unwrap();
        let header = CopyRows::HEADER.len();
        assert_eq!(&last.customers[header..header + 2], &5i16.to_be_bytes());
        assert_eq!(&last.branches[header..header + 2], &3i16.to_be_bytes());
        assert_eq!(
            &last.branches[last.branches.len() - 2..],
            &(-1i16).to_be_bytes()
        );
        assert!(taken.next_rows(2).unwrap().is_none());
    }
}
