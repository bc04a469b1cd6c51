//! Distinct customers, their purchase counts and what they spent over any period, from sets of
//! customer numbers kept per branch (and for every branch) and UTC hour, day and month, each
//! with every member's count and cents as bit-sliced indexes ([`Tally`]) (the `customer_sets`,
//! `customer_counts` and `customer_spent` migrations).
//!
//! - A purchase appends its branch, instant, customer number and cents to
//!   `customer_set_pending`, in its own statement (a trigger).
//! - The rollup ([`PgStore::roll_up`]) takes a batch of pending rows, folds them into the sets,
//!   adds them to their branches' sales and their lines to the units sold per product
//!   ([`count_sales`]) and deletes them in one transaction: in any snapshot a committed purchase
//!   is pending or folded, exactly one of the two, whatever transactions are still in flight.
//!   The reads of sales and units add the pending purchases.
//! - A void deletes its purchase's pending row, or takes one off its customer's counts where
//!   the purchase was folded ([`uncount_void`]), in the void's own transaction.
//! - A read ([`count`], [`counts`]) adds up the sets inside the period ([`Cover`]), the pending
//!   rows of the period and the customers of the purchases of its partial edge hours. It asks
//!   for the sets' versions with the rest in one statement, and reads only the sets whose sum
//!   this server does not keep already ([`Sums`]).
//!
//! The rollup and the voids take turns on one advisory lock, so that each sees the other's
//! writes whole, and a purchase is counted once: folded, or pending, never both or neither.

mod counts;
mod cover;
mod ranking;
mod rebuild;
mod sums;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use icash_core::BranchId;
use icash_core::analytics::Filter;
use roaring::RoaringBitmap;
use sqlx::PgConnection;

pub(crate) use self::counts::{Counts, Tally};
use self::cover::Span;
pub(crate) use self::cover::{Cover, Unit};
pub(crate) use self::ranking::{Ranking, Seen};
pub(crate) use self::sums::Sums;
use self::sums::{Keep, Sum, Versions};

use crate::error::from_sqlx;
use crate::store::PgStore;

/// The advisory lock that the rollup and the voids take turns on (`'icash:customer_sets'` as a
/// number, so that no other lock of the application's is likely to share it). The
/// `sales_and_units_rollup` migration takes it by its value.
const LOCK: i64 = 0x6963_6173_6873_6574;

/// How many pending rows one fold takes at most: its memory and its transaction stay small.
const BATCH: i64 = 50_000;

/// How often the rollup vacuums `customer_set_pending`, whose rows are all deleted soon after
/// they are written: a read scans the dead ones until a vacuum clears them.
const VACUUM_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// The branch id of the sets of every branch.
const EVERY_BRANCH: i32 = 0;

/// What `icash_customer_set_versions` (the customer_set_versions migration) says of a period,
/// in its one row, read alone or beside the figures of another statement (one snapshot): the
/// versions of the sets of its cover by span, its tail's customers with their purchases and
/// cents there, and whether the sets are being built again.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct SetColumns {
    set_spans: Vec<i32>,
    set_versions: Vec<i64>,
    tail_numbers: Vec<i32>,
    tail_purchases: Vec<i64>,
    tail_spent: Vec<i64>,
    sets_rebuilding: bool,
}

impl SetColumns {
    /// The period they describe; `None` while the sets are being built again.
    fn period(self) -> Option<Period> {
        if self.sets_rebuilding {
            return None;
        }
        let mut versions: [Vec<i64>; 5] = Default::default();
        for (span, version) in self.set_spans.into_iter().zip(self.set_versions) {
            let span = usize::try_from(span - 1).expect("spans count from 1");
            versions[span].push(version);
        }
        for span in &mut versions {
            span.sort_unstable();
        }
        let tail = self
            .tail_numbers
            .into_iter()
            .zip(self.tail_purchases)
            .zip(self.tail_spent)
            .map(|((number, purchases), cents)| {
                let purchases = u32::try_from(purchases).expect("a positive count under 2^32");
                let cents = u64::try_from(cents).expect("totals are not negative");
                (member(number), purchases, cents)
            })
            .collect();
        Some(Period { versions, tail })
    }
}

/// What `icash_customer_set_versions` takes as `spans` for `filter`'s period: the bounds of the
/// edges and of the spans of sets of its [`Cover`].
pub(crate) fn bounds(filter: &Filter) -> Vec<Option<DateTime<Utc>>> {
    let cover = Cover::new(filter.from(), filter.to());
    cover
        .edges
        .iter()
        .chain(&spans(&cover))
        .flat_map(|span| [span.from, span.to])
        .collect()
}

/// The units of the cover's spans of sets, by their place in `icash_customer_set_versions`
/// (its `span` less one): the hours before the whole days and after them, the days before the
/// whole months and after them, the months.
const SPAN_UNITS: [Unit; 5] = [Unit::Hour, Unit::Hour, Unit::Day, Unit::Day, Unit::Month];

/// How many times a read asks again when a span's rows changed between its two statements (a
/// fold committed in between) before it leaves the period to the purchases.
const ATTEMPTS: usize = 3;

/// A customer's number in a set (numbers come from a sequence that starts at 1).
fn member(number: i32) -> u32 {
    u32::try_from(number).expect("customer numbers are positive")
}

/// A stored value the server cannot read, as sqlx reports one.
fn undecodable(error: std::io::Error) -> sqlx::Error {
    sqlx::Error::Decode(Box::new(error))
}

/// A set as `customer_sets.customers` keeps it.
fn encode(set: &RoaringBitmap) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(set.serialized_size());
    set.serialize_into(&mut bytes)
        .expect("writing to a vector cannot fail");
    bytes
}

/// The cover's spans of sets, each as the bounds of its units' starts.
fn spans(cover: &Cover) -> [Span; 5] {
    [
        cover.hours[0],
        cover.hours[1],
        cover.days[0],
        cover.days[1],
        cover.months,
    ]
}

/// The customers of a period's tail, each with their purchases and cents there.
type Tail = Vec<(u32, u32, u64)>;

/// The versions of a period's sets, by span, and its tail, as one snapshot has them.
struct Period {
    versions: [Vec<i64>; 5],
    tail: Tail,
}

impl Period {
    /// The versions of every set of the period: the same rows make the same sum whatever
    /// period they were read for, so these name the whole period's sum as a span's versions
    /// name the span's.
    fn whole(&self) -> Versions {
        let mut whole = self.versions.concat();
        whole.sort_unstable();
        whole.into()
    }
}

/// What `icash_customer_set_versions` says of `filter`'s period; `None` while the sets are being
/// built again.
async fn read_versions(
    conn: &mut PgConnection,
    filter: &Filter,
) -> Result<Option<Period>, sqlx::Error> {
    let columns: SetColumns =
        sqlx::query_as("SELECT * FROM icash_customer_set_versions($1, $2, $3, $4)")
            .bind(filter.branch().map(BranchId::get))
            .bind(filter.from())
            .bind(filter.to())
            .bind(bounds(filter))
            .fetch_one(conn)
            .await?;
    Ok(columns.period())
}

/// The sums of the rows of the spans `wanted` (each the span's place and its rows' versions)
/// of `cover` at `branch`, read whole and added up; `None` when a span's rows are no longer
/// those versions.
async fn read_spans<T: Sum>(
    conn: &mut PgConnection,
    branch: Option<BranchId>,
    cover: &Cover,
    wanted: &[(usize, Versions)],
) -> Result<Option<Vec<T>>, sqlx::Error> {
    let spans = spans(cover);
    let (mut places, mut units, mut froms, mut tos) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (place, _) in wanted {
        places.push(i32::try_from(*place).expect("five spans"));
        units.push(SPAN_UNITS[*place].name());
        froms.push(spans[*place].from);
        tos.push(spans[*place].to);
    }
    // Row by row as they come, so that no more than one set's bytes are held apart from the sums.
    let mut rows = sqlx::query_as::<_, (i32, i64, Vec<u8>, Vec<u8>)>(
        // Each span by the sets' key; only the columns asked for are read from the TOAST table.
        "SELECT k.place, c.version, CASE WHEN $6 THEN c.counts ELSE c.customers END,
                CASE WHEN $6 THEN c.spent ELSE ''::bytea END
         FROM unnest($2::integer[], $3::text[], $4::timestamptz[], $5::timestamptz[])
              AS k (place, unit, lo, hi)
         CROSS JOIN LATERAL (
             SELECT c.version, c.customers, c.counts, c.spent FROM customer_sets c
             WHERE c.branch_id = $1 AND c.unit = k.unit
               AND c.starts >= coalesce(k.lo, '-infinity') AND c.starts < coalesce(k.hi, 'infinity')
         ) AS c",
    )
    .bind(branch.map_or(EVERY_BRANCH, BranchId::get))
    .bind(places)
    .bind(units)
    .bind(froms)
    .bind(tos)
    .bind(T::COUNTED)
    .fetch(conn);
    let mut sums: Vec<(T, Vec<i64>)> = wanted.iter().map(|_| Default::default()).collect();
    while let Some((place, version, bytes, spent)) = rows.try_next().await? {
        let at = wanted
            .iter()
            .position(|(wanted, _)| *wanted as i32 == place)
            .expect("a span that was asked for");
        let (sum, versions) = &mut sums[at];
        sum.add(&T::decode(&bytes, &spent).map_err(undecodable)?);
        versions.push(version);
    }
    drop(rows);
    let mut read = Vec::with_capacity(sums.len());
    for ((sum, mut versions), (_, expected)) in sums.into_iter().zip(wanted) {
        versions.sort_unstable();
        if *versions != **expected {
            return Ok(None);
        }
        read.push(sum);
    }
    Ok(Some(read))
}

/// The sum of the sets of `period`, read under `filter` as `cover` lays it out: each span's as
/// this server keeps it ([`Sums`]), or read again; `None` when a span's rows changed since
/// `period` was read.
async fn sum_of<T: Sum>(
    conn: &mut PgConnection,
    sums: &Sums,
    filter: &Filter,
    cover: &Cover,
    period: &Period,
) -> Result<Option<T>, sqlx::Error> {
    let kept = T::kept(sums);
    let mut parts = Vec::new();
    let mut missing = Vec::new();
    for (place, versions) in period.versions.iter().enumerate() {
        if versions.is_empty() {
            continue;
        }
        let versions = Versions::from(versions.as_slice());
        match kept.get(&versions) {
            Some(sum) => parts.push(sum),
            None => missing.push((place, versions)),
        }
    }
    if !missing.is_empty() {
        let Some(read) = read_spans::<T>(conn, filter.branch(), cover, &missing).await? else {
            return Ok(None);
        };
        for ((_, versions), sum) in missing.into_iter().zip(read) {
            let sum = Arc::new(sum);
            kept.insert(versions, sum.clone());
            parts.push(sum);
        }
    }
    Ok(Some(sums::total(&parts)))
}

/// What a read makes of a whole period, kept by the versions of the period's sets.
trait Made: Keep {
    /// Made from `period`'s sets, read under `filter` as `cover` lays them out; `None` when
    /// they changed since `period` was read.
    fn make(
        conn: &mut PgConnection,
        sums: &Sums,
        filter: &Filter,
        cover: &Cover,
        period: &Period,
    ) -> impl Future<Output = Result<Option<Self>, sqlx::Error>> + Send;
}

/// The period's distinct customers: the union of its sets.
impl Made for RoaringBitmap {
    async fn make(
        conn: &mut PgConnection,
        sums: &Sums,
        filter: &Filter,
        cover: &Cover,
        period: &Period,
    ) -> Result<Option<Self>, sqlx::Error> {
        sum_of(conn, sums, filter, cover, period).await
    }
}

/// The period's customers by their purchases: the ranking of the sum of its tallies.
impl Made for Ranking {
    async fn make(
        conn: &mut PgConnection,
        sums: &Sums,
        filter: &Filter,
        cover: &Cover,
        period: &Period,
    ) -> Result<Option<Self>, sqlx::Error> {
        let sum: Option<Tally> = sum_of(conn, sums, filter, cover, period).await?;
        Ok(sum.map(Ranking::of))
    }
}

/// What a read makes of `period` (read under `filter`), as this server keeps it under the
/// versions of the period's sets ([`Sums`]) or made now; `None` when the sets changed since
/// `period` was read.
async fn made_of<T: Made>(
    conn: &mut PgConnection,
    sums: &Sums,
    filter: &Filter,
    period: &Period,
) -> Result<Option<Arc<T>>, sqlx::Error> {
    let kept = T::kept(sums);
    let whole = period.whole();
    if let Some(made) = kept.get(&whole) {
        return Ok(Some(made));
    }
    let cover = Cover::new(filter.from(), filter.to());
    let Some(made) = T::make(conn, sums, filter, &cover, period).await? else {
        return Ok(None);
    };
    let made = Arc::new(made);
    kept.insert(whole, made.clone());
    Ok(Some(made))
}

/// What a read makes of `filter`'s period ([`made_of`]), and the period's tail, all of one
/// snapshot. `None` while the sets are being built again, or when they kept changing under the
/// read (the caller then counts from the purchases).
async fn made_of_period<T: Made>(
    conn: &mut PgConnection,
    sums: &Sums,
    filter: &Filter,
) -> Result<Option<(Arc<T>, Tail)>, sqlx::Error> {
    for _ in 0..ATTEMPTS {
        let Some(period) = read_versions(conn, filter).await? else {
            return Ok(None);
        };
        if let Some(made) = made_of::<T>(conn, sums, filter, &period).await? {
            return Ok(Some((made, period.tail)));
        }
    }
    Ok(None)
}

/// The size of the union of `customers` and the tail's.
fn unique(customers: &RoaringBitmap, tail: Tail) -> u64 {
    let tail: RoaringBitmap = tail.into_iter().map(|(number, _, _)| number).collect();
    customers.len() + (tail - customers).len()
}

/// `ranking` with the tail's purchases added.
fn ranked(ranking: Arc<Ranking>, tail: Tail) -> Arc<Ranking> {
    if tail.is_empty() {
        return ranking;
    }
    Arc::new(ranking.with(&tail))
}

/// How many distinct customers made a purchase not voided under `filter`, as `columns` (read
/// beside another statement's figures) describe its period; `None` while the sets are being
/// built again or when they changed since (the caller then reads them in a snapshot of its own).
pub(crate) async fn count_of(
    conn: &mut PgConnection,
    sums: &Sums,
    filter: &Filter,
    columns: SetColumns,
) -> Result<Option<u64>, sqlx::Error> {
    let Some(period) = columns.period() else {
        return Ok(None);
    };
    let made = made_of::<RoaringBitmap>(conn, sums, filter, &period).await?;
    Ok(made.map(|customers| unique(&customers, period.tail)))
}

/// The customers who made a purchase not voided under `filter`, grouped by how many, as
/// `columns` describe its period; `None` as for [`count_of`].
pub(crate) async fn ranking_of(
    conn: &mut PgConnection,
    sums: &Sums,
    filter: &Filter,
    columns: SetColumns,
) -> Result<Option<Arc<Ranking>>, sqlx::Error> {
    let Some(period) = columns.period() else {
        return Ok(None);
    };
    let made = made_of::<Ranking>(conn, sums, filter, &period).await?;
    Ok(made.map(|ranking| ranked(ranking, period.tail)))
}

/// How many distinct customers made a purchase not voided under `filter`, or `None` while the
/// sets are being built again (the caller then counts from the purchases): the sets and the
/// tail's customers of the period, unioned.
pub(crate) async fn count(
    conn: &mut PgConnection,
    sums: &Sums,
    filter: &Filter,
) -> Result<Option<u64>, sqlx::Error> {
    let Some((customers, tail)) = made_of_period::<RoaringBitmap>(conn, sums, filter).await? else {
        return Ok(None);
    };
    Ok(Some(unique(&customers, tail)))
}

/// The customers who made a purchase not voided under `filter`, grouped by how many, or `None`
/// while the sets are being built again: the counts and the tail of the period, added up.
pub(crate) async fn ranking(
    conn: &mut PgConnection,
    sums: &Sums,
    filter: &Filter,
) -> Result<Option<Arc<Ranking>>, sqlx::Error> {
    let made = made_of_period::<Ranking>(conn, sums, filter).await?;
    Ok(made.map(|(ranking, tail)| ranked(ranking, tail)))
}

/// Where one set is kept: its branch ([`EVERY_BRANCH`] for the chain's), unit and start.
type SetKey = (i32, Unit, DateTime<Utc>);

/// The keys of the sets a purchase at `branch` and `at` counts in: its branch's and every
/// branch's, for each unit.
fn keys_of(branch: i32, at: DateTime<Utc>) -> impl Iterator<Item = SetKey> {
    Unit::ALL.into_iter().flat_map(move |unit| {
        let start = unit.start(at);
        [(branch, unit, start), (EVERY_BRANCH, unit, start)]
    })
}

/// The tally of the set at `key` as it is kept now (empty when there is none).
async fn read_set(conn: &mut PgConnection, key: SetKey) -> Result<Tally, sqlx::Error> {
    let (branch, unit, start) = key;
    let row: Option<(Vec<u8>, Vec<u8>)> = sqlx::query_as(
        "SELECT counts, spent FROM customer_sets WHERE branch_id = $1 AND unit = $2 AND starts = $3",
    )
    .bind(branch)
    .bind(unit.name())
    .bind(start)
    .fetch_optional(conn)
    .await?;
    let Some((counts, spent)) = row else {
        return Ok(Tally::default());
    };
    Tally::decode(&counts, &spent).map_err(undecodable)
}

/// Writes `set` (its customers and its tally) in place of the one kept at `key`; an empty set's
/// row goes. One set at a time, so that a fold or a rebuild holds no more than one month's
/// bytes at once.
async fn write_set(conn: &mut PgConnection, key: SetKey, set: &Tally) -> Result<(), sqlx::Error> {
    let (branch, unit, start) = key;
    if set.is_empty() {
        sqlx::query("DELETE FROM customer_sets WHERE branch_id = $1 AND unit = $2 AND starts = $3")
            .bind(branch)
            .bind(unit.name())
            .bind(start)
            .execute(conn)
            .await?;
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO customer_sets (branch_id, unit, starts, customers, counts, spent)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (branch_id, unit, starts)
         DO UPDATE SET customers = excluded.customers, counts = excluded.counts,
                       spent = excluded.spent, version = nextval('customer_set_versions')",
    )
    .bind(branch)
    .bind(unit.name())
    .bind(start)
    .bind(encode(&set.purchases.customers()))
    .bind(set.purchases.encode())
    .bind(set.spent.encode())
    .execute(conn)
    .await?;
    Ok(())
}

/// Reads the set at `key`, changes it with `change` and writes it back.
async fn update_set(
    conn: &mut PgConnection,
    key: SetKey,
    change: impl FnOnce(&mut Tally),
) -> Result<(), sqlx::Error> {
    let mut set = read_set(&mut *conn, key).await?;
    change(&mut set);
    write_set(conn, key, &set).await
}

/// What one step of the rollup did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RollUp {
    /// Another server's rollup (or a void) held the sets: nothing was done.
    Busy,
    /// The sets were built again from every purchase.
    Rebuilt,
    /// This many pending purchases were folded into the sets (at most a batch).
    Folded(u64),
}

impl RollUp {
    /// Whether more may be waiting: a full batch was folded, or the sets were rebuilt.
    pub fn more(self) -> bool {
        match self {
            RollUp::Busy => false,
            RollUp::Rebuilt => true,
            RollUp::Folded(rows) => rows >= BATCH as u64,
        }
    }
}

/// A row of the batch a fold takes.
#[derive(sqlx::FromRow)]
struct PendingRow {
    purchase_id: i64,
    branch_id: i32,
    purchased_at: DateTime<Utc>,
    customer_number: i32,
    cents: i64,
    voided: bool,
}

/// One step of the rollup, in one transaction on `conn` (see [`PgStore::roll_up`]).
async fn roll_up(conn: &mut PgConnection) -> Result<RollUp, sqlx::Error> {
    // Read committed: every statement after the lock sees every void committed before it, and
    // a void that comes later waits for this transaction.
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let (locked,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_xact_lock($1)")
        .bind(LOCK)
        .fetch_one(&mut *tx)
        .await?;
    if !locked {
        return Ok(RollUp::Busy);
    }
    let (rebuilding,): (bool,) =
        sqlx::query_as("SELECT EXISTS (SELECT 1 FROM customer_sets_rebuild)")
            .fetch_one(&mut *tx)
            .await?;
    if rebuilding {
        rebuild::rebuild(&mut tx).await?;
        tx.commit().await?;
        return Ok(RollUp::Rebuilt);
    }
    // The rows this statement sees are those of committed purchases; rows of transactions
    // still in flight stay for a later fold.
    let rows: Vec<PendingRow> = sqlx::query_as(
        "WITH batch AS (
             DELETE FROM customer_set_pending
             WHERE ctid = ANY (ARRAY(SELECT ctid FROM customer_set_pending LIMIT $1))
             RETURNING purchase_id, branch_id, purchased_at, customer_number, cents
         )
         SELECT b.purchase_id, b.branch_id, b.purchased_at, b.customer_number, b.cents,
                EXISTS (SELECT 1 FROM purchase_voids v WHERE v.purchase_id = b.purchase_id) AS voided
         FROM batch b",
    )
    .bind(BATCH)
    .fetch_all(&mut *tx)
    .await?;
    let folded = rows.len() as u64;
    let mut added: BTreeMap<SetKey, Vec<(u32, u64, u64)>> = BTreeMap::new();
    for row in rows.iter().filter(|row| !row.voided) {
        let cents = u64::try_from(row.cents).expect("totals are not negative");
        for key in keys_of(row.branch_id, row.purchased_at) {
            added
                .entry(key)
                .or_default()
                .push((member(row.customer_number), 1, cents));
        }
    }
    // In key order, as every writer of the sets holds the same lock anyway.
    for (key, more) in added {
        let more = Tally::from_rows(more);
        update_set(&mut tx, key, |set| set.add(&more)).await?;
    }
    let counted: Vec<i64> = rows
        .iter()
        .filter(|row| !row.voided)
        .map(|row| row.purchase_id)
        .collect();
    count_sales(&mut tx, &counted, 1).await?;
    tx.commit().await?;
    Ok(RollUp::Folded(folded))
}

/// Adds `sign` times `purchases` to their branches' sales and their lines to the units sold
/// per product (`icash_count_branch_sales` and `icash_count_units`, the
/// `sales_and_units_rollup` migration), in the order a void's trigger locks those rows.
async fn count_sales(
    conn: &mut PgConnection,
    purchases: &[i64],
    sign: i32,
) -> Result<(), sqlx::Error> {
    if !purchases.is_empty() {
        sqlx::query("SELECT icash_count_branch_sales($1, $2), icash_count_units($1, $2)")
            .bind(purchases)
            .bind(sign)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Keeps the rollup out of the void's transaction `conn` until it ends: taken before the void's
/// row is written, whose trigger takes the purchase off its branch's sales and its units off
/// the products', so that whether the purchase is folded or pending cannot change under it
/// (see [`uncount_void`]), and so that the void locks those rows after the rollup's lock, as
/// the rollup does.
pub(crate) async fn keep_rollup_out(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(LOCK)
        .execute(conn)
        .await?;
    Ok(())
}

/// Takes the voided purchase `purchase` out of the counts, in the void's transaction `conn`,
/// after the void's row is written and under [`keep_rollup_out`]: a purchase still pending
/// loses its pending row (the rollup would skip it anyway, and reads already do) and gets back
/// the sales and units the void's trigger took off, which were never added; a folded one
/// takes one off its customer's count and its cents off their spending in each set it was
/// folded into, and the customer leaves a set where that was their only purchase.
pub(crate) async fn uncount_void(
    conn: &mut PgConnection,
    purchase: i64,
) -> Result<(), sqlx::Error> {
    let pending = sqlx::query("DELETE FROM customer_set_pending WHERE purchase_id = $1")
        .bind(purchase)
        .execute(&mut *conn)
        .await?;
    if pending.rows_affected() > 0 {
        return count_sales(conn, &[purchase], 1).await;
    }
    let (branch, at, number, cents): (i32, DateTime<Utc>, i32, i64) = sqlx::query_as(
        "SELECT v.branch_id, v.purchased_at, c.number, (v.total * 100)::bigint
         FROM purchase_voids v JOIN customers c ON c.id = v.customer_id
         WHERE v.purchase_id = $1",
    )
    .bind(purchase)
    .fetch_one(&mut *conn)
    .await?;
    let number = member(number);
    let cents = u64::try_from(cents).expect("totals are not negative");
    for key in keys_of(branch, at) {
        // A set without the customer is one being built again (a bulk load's purchases are
        // folded nowhere): the rebuild reads the void.
        update_set(&mut *conn, key, |set| set.take_away(number, cents)).await?;
    }
    Ok(())
}

impl PgStore {
    /// One step of the rollup that keeps the sets of customers behind the distinct counts over
    /// periods: builds the sets again when a bulk load asked for it, else folds a batch of
    /// pending purchases into them. Safe to call from any number of servers at once (one works,
    /// the others answer [`RollUp::Busy`]); reads are exact whether it runs or not, only
    /// slower as pending purchases pile up. [`PgStore::roll_up_forever`] calls it in a loop.
    pub async fn roll_up(&self) -> icash_core::Result<RollUp> {
        let mut conn = self.pool().acquire().await.map_err(from_sqlx)?;
        roll_up(&mut conn).await.map_err(from_sqlx)
    }

    /// Runs the rollup every `interval`, and at once again while a step leaves more to do.
    /// A failed step is logged and tried again at the next tick.
    pub async fn roll_up_forever(self, interval: std::time::Duration) {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_vacuum = std::time::Instant::now();
        loop {
            ticks.tick().await;
            if last_vacuum.elapsed() >= VACUUM_EVERY {
                last_vacuum = std::time::Instant::now();
                // Outside any transaction, as VACUUM must be; a role that does not own the
                // table gets a warning and leaves it to autovacuum.
                if let Err(error) = sqlx::raw_sql("VACUUM customer_set_pending")
                    .execute(self.pool())
                    .await
                {
                    tracing::warn!(%error, "could not vacuum the pending purchases");
                }
            }
            loop {
                let started = std::time::Instant::now();
                match self.roll_up().await {
                    Ok(RollUp::Rebuilt) => tracing::info!(
                        seconds = started.elapsed().as_secs_f64(),
                        "built the customer sets from the purchases"
                    ),
                    Ok(step) if step.more() => continue,
                    Ok(_) => break,
                    Err(error) => {
                        tracing::warn!(%error, "the rollup of the customer sets failed; trying again");
                        break;
                    }
                }
            }
        }
    }
}

/// Asks for the sets to be built again (a bulk load wrote purchases without their triggers);
/// until the rollup has, reads count from the purchases.
pub(crate) async fn want_rebuild(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO customer_sets_rebuild DEFAULT VALUES ON CONFLICT DO NOTHING")
        .execute(conn)
        .await?;
    Ok(())
}
