//! Bulk loads into an empty store: [`PgImport`], the [`ImportSession`] of [`PgStore`].
//!
//! A load is one transaction. At its first batch, `icash_bulk_load_begin()` (see the `bulk_load`
//! migration) sets the loaded tables' keys, foreign keys and secondary indexes aside and pauses
//! the triggers; the purchases then go in with binary COPY, 50,000 at a time by default, their
//! values encoded by sqlx's own encoders on a blocking thread while the previous COPY is sent in
//! the background, and the hourly sales and the customers' counters summed on the way
//! ([`customers`]) and staged with COPY too; `icash_bulk_load_finish(..)` builds the aggregates
//! from those sums and rebuilds everything that was set aside, once.
//! The foreign keys come back `NOT VALID` (enforced on every new row, the loaded ones checked by
//! the loader); [`PgStore::validate_foreign_keys`] proves the loaded rows afterwards.

mod customers;

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use icash_core::{Error, ImportSession, PricedPurchase, Product, Result, ValidationError};
use rust_decimal::Decimal;
use sqlx::encode::IsNull;
use sqlx::postgres::PgArgumentBuffer;
use sqlx::{Encode, PgConnection, Postgres, Transaction};
use tokio::task::JoinHandle;

use self::customers::{CustomerRows, CustomerSums};
use crate::catalog::upsert_products;
use crate::error::from_sqlx;
use crate::store::PgStore;

impl PgStore {
    /// Validates the foreign keys that a bulk load left `NOT VALID`, and returns how many.
    ///
    /// A load checks every branch and product its purchases name before writing them, and
    /// writes their lines and customers itself, so its rows hold the references; PostgreSQL
    /// enforces the keys on every row written after the load. This proves the loaded rows too,
    /// as PostgreSQL's own bookkeeping of the constraints. It takes a lock that lets purchases
    /// and reads go on, so a server can run it in the background once it serves. Running it
    /// again validates nothing.
    pub async fn validate_foreign_keys(&self) -> Result<u64> {
        let mut tx = self.pool().begin().await.map_err(from_sqlx)?;
        sqlx::query("SET LOCAL statement_timeout = 0")
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        let validated: i32 = sqlx::query_scalar("SELECT icash_validate_foreign_keys()")
            .fetch_one(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        tx.commit().await.map_err(from_sqlx)?;
        Ok(u64::try_from(validated).unwrap_or_default())
    }
}

pub(crate) use self::customers::DEFAULT_LIMIT as DEFAULT_CUSTOMER_SUMS;

/// Hash maps and sets with foldhash, seeded per process: the loader looks up every purchase's
/// branch, customer and hour and every line's product, and SipHash is slow for such small keys.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
type FastSet<T> = HashSet<T, foldhash::fast::RandomState>;

/// How many customers' (and pairs') rows go in one COPY when sums are handed over.
const CUSTOMER_ROWS_PER_COPY: usize = 100_000;

/// How many purchases go in one COPY by default. PostgreSQL sets up each COPY anew (its slots
/// for buffered rows among them), a cost that small COPYs pay too often; past a few tens of
/// thousands of purchases a COPY, the size no longer matters, and a COPY's buffer stays a few
/// megabytes.
pub(crate) const DEFAULT_PURCHASES_PER_COPY: usize = 50_000;

/// A bulk load in progress, in one transaction; [`ImportSession::commit`] rebuilds what was set
/// aside and makes it all visible at once.
///
/// Setting things aside locks the purchases, customers, branches and products until the load
/// commits, so it waits for the first batch of purchases: reading the catalog before that, as
/// [`icash_core::import::load`] does, does not wait for the whole load.
pub(crate) struct PgImport {
    link: Link,
    /// The branches and products that exist, checked here because the foreign keys that would
    /// name the culprit are set aside until the end.
    branches: FastSet<i32>,
    products: FastSet<i32>,
    /// The id of the next purchase, once the load has begun. The load numbers its purchases
    /// itself: nobody else can insert any meanwhile.
    next_id: Option<i64>,
    /// Purchases encoded and not yet sent; taken out while a batch is encoded on another thread.
    filling: Option<Encoded>,
    /// How many purchases are sent in one COPY.
    purchases_per_copy: usize,
    /// The customers' counters of the purchases encoded so far and not yet handed over; taken
    /// out while a batch is encoded on another thread.
    sums: Option<CustomerSums>,
    /// Whether sums were handed over before the last ones: then a customer may have several
    /// partial rows for the finish to add up.
    partial_sums: bool,
}

/// The load's transaction, or the task that is sending a COPY on it.
///
/// PostgreSQL's backend is the slower side of a load: a COPY goes on in the background while
/// the next purchases are encoded, so that the backend always has rows waiting.
struct Link {
    /// `None` while a COPY is being sent, and after a COPY failed.
    tx: Option<Transaction<'static, Postgres>>,
    sending: Option<JoinHandle<(Transaction<'static, Postgres>, Result<()>)>>,
}

impl Link {
    /// Takes the transaction out, once the COPY in flight (if any) is done; that COPY's error
    /// if it failed.
    async fn take(&mut self) -> Result<Transaction<'static, Postgres>> {
        if let Some(task) = self.sending.take() {
            let (tx, sent) = task.await.map_err(Error::internal)?;
            sent?;
            return Ok(tx);
        }
        self.tx
            .take()
            .ok_or_else(|| Error::internal("the load's connection was lost with a failed COPY"))
    }

    /// The transaction, once the COPY in flight (if any) is done.
    async fn idle(&mut self) -> Result<&mut Transaction<'static, Postgres>> {
        let tx = self.take().await?;
        Ok(self.tx.insert(tx))
    }

    /// Sends `encoded` in the background, once the COPY in flight (if any) is done.
    async fn send(&mut self, encoded: Encoded) -> Result<()> {
        let mut tx = self.take().await?;
        self.sending = Some(tokio::spawn(async move {
            let sent = encoded.send(&mut tx).await;
            (tx, sent)
        }));
        Ok(())
    }

    /// Commits the transaction, once everything is sent.
    async fn commit(mut self) -> Result<()> {
        self.take().await?.commit().await.map_err(from_sqlx)
    }
}

impl PgImport {
    /// A load in `tx`, which holds the import lock, into a store with these branches and
    /// products, summing at most `customer_sums` customers and pairs in memory at a time and
    /// sending `purchases_per_copy` purchases in each COPY.
    pub(crate) fn new(
        tx: Transaction<'static, Postgres>,
        branches: impl IntoIterator<Item = i32>,
        products: impl IntoIterator<Item = i32>,
        customer_sums: usize,
        purchases_per_copy: usize,
    ) -> PgImport {
        PgImport {
            link: Link {
                tx: Some(tx),
                sending: None,
            },
            branches: branches.into_iter().collect(),
            products: products.into_iter().collect(),
            next_id: None,
            filling: None,
            purchases_per_copy,
            sums: Some(CustomerSums::new(customer_sums)),
            partial_sums: false,
        }
    }

    /// Hands the customers' sums over to the staging tables, a chunk at a time, each encoded on
    /// a blocking thread.
    async fn hand_over_sums(&mut self) -> Result<()> {
        let sums = self
            .sums
            .as_mut()
            .ok_or_else(|| Error::internal("sums were lost"))?;
        let mut taken = sums.take();
        let tx = self.link.idle().await?;
        loop {
            let (rest, rows) = tokio::task::spawn_blocking(move || {
                let rows = taken.next_rows(CUSTOMER_ROWS_PER_COPY);
                (taken, rows)
            })
            .await
            .map_err(Error::internal)?;
            taken = rest;
            match rows? {
                Some(rows) => rows.send(tx).await?,
                None => return Ok(()),
            }
        }
    }

    /// Refuses a batch naming a branch or product the store lacks.
    fn check_references(&self, purchases: &[PricedPurchase]) -> Result<()> {
        for purchase in purchases {
            if !self.branches.contains(&purchase.branch().get()) {
                return Err(ValidationError::UnknownBranch(purchase.branch()).into());
            }
            if let Some(line) = purchase
                .lines()
                .iter()
                .find(|line| !self.products.contains(&line.product().get()))
            {
                return Err(ValidationError::UnknownProduct(line.product()).into());
            }
        }
        Ok(())
    }
}

#[async_trait]
impl ImportSession for PgImport {
    async fn put_products(&mut self, products: &[Product]) -> Result<()> {
        upsert_products(self.link.idle().await?, products).await?;
        self.products
            .extend(products.iter().map(|product| product.id().get()));
        Ok(())
    }

    async fn write(&mut self, purchases: Vec<PricedPurchase>) -> Result<()> {
        if purchases.is_empty() {
            return Ok(());
        }
        self.check_references(&purchases)?;
        let first_id = match self.next_id {
            Some(id) => id,
            None => sqlx::query_scalar("SELECT icash_bulk_load_begin()")
                .fetch_one(&mut **self.link.idle().await?)
                .await
                .map_err(from_sqlx)?,
        };
        self.next_id = Some(first_id + purchases.len() as i64);
        let per_copy = self.purchases_per_copy;
        let mut filling = self
            .filling
            .take()
            .unwrap_or_else(|| Encoded::new(per_copy));
        let mut sums = self
            .sums
            .take()
            .ok_or_else(|| Error::internal("sums were lost"))?;
        let (filling, sums, encoded) = tokio::task::spawn_blocking(move || {
            let encoded = filling.add(first_id, &purchases, &mut sums);
            (filling, sums, encoded)
        })
        .await
        .map_err(Error::internal)?;
        encoded?;
        let full = sums.is_full();
        self.sums = Some(sums);
        if filling.purchases >= per_copy {
            self.link.send(filling).await?;
        } else {
            self.filling = Some(filling);
        }
        if full {
            self.hand_over_sums().await?;
            self.partial_sums = true;
        }
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> Result<()> {
        if let Some(rest) = self.filling.take() {
            self.link.send(rest).await?;
        }
        if let Some(next_id) = self.next_id {
            self.hand_over_sums().await?;
            sqlx::query("SELECT icash_bulk_load_finish($1, $2)")
                .bind(next_id - 1)
                .bind(self.partial_sums)
                .execute(&mut **self.link.idle().await?)
                .await
                .map_err(from_sqlx)?;
            // The business days from the aggregates the finish built, the keys and indexes back.
            sqlx::query("SELECT icash_rebuild_business_days(NULL)")
                .execute(&mut **self.link.idle().await?)
                .await
                .map_err(from_sqlx)?;
        }
        self.link.commit().await
    }
}

/// Purchases in PostgreSQL's binary COPY format, under consecutive ids: their rows, their
/// lines, and their sales summed per branch and per product and hour.
///
/// The hourly sums are only a compression: `icash_bulk_load_finish(..)` adds them up again into
/// its own hourly buckets, so the rule of which hour a purchase counts in stays in SQL alone.
/// Summing here spares it joining every line to its purchase.
struct Encoded {
    /// How many purchases are encoded.
    purchases: usize,
    rows: CopyRows,
    lines: CopyRows,
    branch_hours: FastMap<(i32, DateTime<Utc>), (i64, Decimal)>,
    product_hours: FastMap<(i32, i32, DateTime<Utc>), i64>,
}

impl Encoded {
    /// Room for `purchases` purchases, made once: buffers grown by doubling leave the smaller
    /// ones behind in the allocator's free pages for a while.
    fn new(purchases: usize) -> Encoded {
        Encoded {
            purchases: 0,
            rows: CopyRows::new(purchases * 80),
            lines: CopyRows::new(purchases * 3 * 48),
            branch_hours: FastMap::default(),
            product_hours: FastMap::default(),
        }
    }

    /// Encodes `purchases` under ids from `first_id`, and adds them to the customers' `sums`.
    fn add(
        &mut self,
        first_id: i64,
        purchases: &[PricedPurchase],
        sums: &mut CustomerSums,
    ) -> Result<()> {
        let (rows, lines) = (&mut self.rows, &mut self.lines);
        let mut by_product: Vec<(i32, i16, Decimal)> = Vec::new();
        for (id, purchase) in (first_id..).zip(purchases) {
            let branch = purchase.branch().get();
            let total = purchase.total();
            sums.add(purchase, total)?;
            let total = total.amount();
            rows.row(5);
            rows.field(&id)?;
            rows.field(&branch)?;
            rows.field(&purchase.customer().uuid())?;
            rows.field(&purchase.at())?;
            rows.field(&total)?;
            // In key order (the position keeps the till's): the lines' key is then built from
            // a table already in its order, which sorts faster.
            by_product.clear();
            for (position, line) in purchase.lines().iter().enumerate() {
                let position = i16::try_from(position)
                    .map_err(|_| Error::internal("a purchase has more lines than a smallint"))?;
                by_product.push((line.product().get(), position, line.unit_price().amount()));
            }
            by_product.sort_unstable_by_key(|&(product, _, _)| product);
            for (product, position, unit_price) in &by_product {
                lines.row(4);
                lines.field(&id)?;
                lines.field(product)?;
                lines.field(position)?;
                lines.field(unit_price)?;
            }

            let hour = purchase
                .at()
                .duration_trunc(TimeDelta::hours(1))
                .map_err(Error::internal)?;
            let sales = self.branch_hours.entry((branch, hour)).or_default();
            sales.0 += 1;
            sales.1 += total;
            for line in purchase.lines() {
                *self
                    .product_hours
                    .entry((line.product().get(), branch, hour))
                    .or_default() += 1;
            }
        }
        self.purchases += purchases.len();
        Ok(())
    }

    async fn send(self, conn: &mut PgConnection) -> Result<()> {
        let mut branch_rows = CopyRows::new(self.branch_hours.len() * 48);
        for ((branch, hour), (count, revenue)) in &self.branch_hours {
            branch_rows.row(4);
            branch_rows.field(branch)?;
            branch_rows.field(hour)?;
            branch_rows.field(count)?;
            branch_rows.field(revenue)?;
        }
        let mut product_rows = CopyRows::new(self.product_hours.len() * 40);
        for ((product, branch, hour), units) in &self.product_hours {
            product_rows.row(4);
            product_rows.field(product)?;
            product_rows.field(branch)?;
            product_rows.field(hour)?;
            product_rows.field(units)?;
        }
        let copies = [
            (
                "COPY purchases (id, branch_id, customer_id, purchased_at, total) FROM STDIN (FORMAT binary)",
                self.rows.finish(),
            ),
            (
                "COPY purchase_lines (purchase_id, product_id, position, unit_price) FROM STDIN (FORMAT binary)",
                self.lines.finish(),
            ),
            (
                "COPY icash_load_branch_hours (branch_id, hour, purchases, revenue) FROM STDIN (FORMAT binary)",
                branch_rows.finish(),
            ),
            (
                "COPY icash_load_product_hours (product_id, branch_id, hour, units) FROM STDIN (FORMAT binary)",
                product_rows.finish(),
            ),
        ];
        for (statement, data) in copies {
            copy_in(conn, statement, data).await?;
        }
        Ok(())
    }
}

impl CustomerRows {
    async fn send(self, conn: &mut PgConnection) -> Result<()> {
        copy_in(
            conn,
            "COPY icash_load_customers (id, purchases, spent, first_purchase, last_purchase) FROM STDIN (FORMAT binary)",
            self.customers,
        )
        .await?;
        copy_in(
            conn,
            "COPY icash_load_customer_branches (branch_id, customer_id, purchases) FROM STDIN (FORMAT binary)",
            self.branches,
        )
        .await
    }
}

/// Sends `data`, rows in binary COPY format, with the COPY `statement`.
async fn copy_in(conn: &mut PgConnection, statement: &str, data: Vec<u8>) -> Result<()> {
    let mut copy = conn.copy_in_raw(statement).await.map_err(from_sqlx)?;
    if let Err(error) = copy.send(data).await {
        let _ = copy.abort("the load failed").await;
        return Err(from_sqlx(error));
    }
    copy.finish().await.map_err(from_sqlx)?;
    Ok(())
}

/// Rows in PostgreSQL's binary COPY format, each value written by sqlx's encoder for its type.
struct CopyRows {
    data: Vec<u8>,
    scratch: PgArgumentBuffer,
}

impl CopyRows {
    /// The format's signature, then its flags and header extension (none).
    const HEADER: &'static [u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

    fn new(capacity: usize) -> CopyRows {
        let mut data = Vec::with_capacity(Self::HEADER.len() + capacity + 2);
        data.extend_from_slice(Self::HEADER);
        CopyRows {
            data,
            scratch: PgArgumentBuffer::default(),
        }
    }

    /// Starts a row of `fields` values.
    fn row(&mut self, fields: i16) {
        self.data.extend_from_slice(&fields.to_be_bytes());
    }

    /// Appends one value, prefixed by its length.
    fn field<'q, T: Encode<'q, Postgres>>(&mut self, value: &T) -> Result<()> {
        self.scratch.clear();
        match value.encode_by_ref(&mut self.scratch) {
            Ok(IsNull::No) => {
                let length = i32::try_from(self.scratch.len()).map_err(Error::internal)?;
                self.data.extend_from_slice(&length.to_be_bytes());
                self.data.extend_from_slice(&self.scratch);
            }
            Ok(IsNull::Yes) => self.data.extend_from_slice(&(-1i32).to_be_bytes()),
            Err(error) => return Err(Error::internal(error)),
        }
        Ok(())
    }

    /// The rows with the format's trailer.
    fn finish(mut self) -> Vec<u8> {
        self.data.extend_from_slice(&(-1i16).to_be_bytes());
        self.data
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_copy_frames_rows_and_lengths() {
        let mut rows = CopyRows::new(0);
        rows.row(2);
        rows.field(&7i32).unwrap();
        rows.field(&Option::<i32>::None).unwrap();
        let data = rows.finish();
        let (header, rest) = data.split_at(CopyRows::HEADER.len());
        assert_eq!(header, b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0");
        assert_eq!(
            rest,
            [
                0, 2, 0, 0, 0, 4, 0, 0, 0, 7, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
            ]
        );
    }
}
