//! Distinct customers and their purchase counts over any period, from sets of customer numbers
//! kept per branch (and for every branch) and UTC hour, day and month, each with every member's
//! count as a bit-sliced index ([`Counts`]) (the `customer_sets` and `customer_counts`
//! migrations).
//!
//! - A purchase appends its branch, instant and customer number to `customer_set_pending`, in
//!   its own statement (a trigger).
//! - The rollup ([`PgStore::roll_up`]) takes a batch of pending rows, folds them into the sets and
//!   deletes them in one transaction: in any snapshot a committed purchase is pending or folded,
//!   exactly one of the two, whatever transactions are still in flight.
//! - A void deletes its purchase's pending row, or takes one off its customer's counts where
//!   the purchase was folded ([`uncount_void`]), in the void's own transaction.
//! - A read ([`count`], [`counts`]) adds up the sets inside the period ([`Cover`]), the pending
//!   rows of the period and the customers of the purchases of its partial edge hours, in one
//!   statement.
//!
//! The rollup and the voids take turns on one advisory lock, so that each sees the other's
//! writes whole, and a purchase is counted once: folded, or pending, never both or neither.

mod counts;
mod cover;
mod rebuild;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use icash_core::BranchId;
use icash_core::analytics::Filter;
use roaring::RoaringBitmap;
use sqlx::PgConnection;

pub(crate) use self::counts::Counts;
pub(crate) use self::cover::{Cover, Unit};

use crate::error::from_sqlx;
use crate::store::PgStore;

/// The advisory lock that the rollup and the voids take turns on (`'icash:customer_sets'` as a
/// number, so that no other lock of the application's is likely to share it).
const LOCK: i64 = 0x6963_6173_6873_6574;

/// How many pending rows one fold takes at most: its memory and its transaction stay small.
const BATCH: i64 = 50_000;

/// How often the rollup vacuums `customer_set_pending`, whose rows are all deleted soon after
/// they are written: a read scans the dead ones until a vacuum clears them.
const VACUUM_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// The branch id of the sets of every branch.
const EVERY_BRANCH: i32 = 0;

/// A row of `icash_customer_sets_of` (the customer_counts migration): a set or its counts, or a
/// customer's number with their purchases, or the mark that the sets are to be built again.
#[derive(sqlx::FromRow)]
struct PeriodRow {
    customers: Option<Vec<u8>>,
    counts: Option<Vec<u8>>,
    customer_number: Option<i32>,
    purchases: Option<i64>,
    rebuilding: bool,
}

/// A customer's number in a set (numbers come from a sequence that starts at 1).
fn member(number: i32) -> u32 {
    u32::try_from(number).expect("customer numbers are positive")
}

/// A stored value the server cannot read, as sqlx reports one.
fn undecodable(error: std::io::Error) -> sqlx::Error {
    sqlx::Error::Decode(Box::new(error))
}

/// Reads a set as `customer_sets.customers` keeps it.
fn decode(bytes: &[u8]) -> Result<RoaringBitmap, sqlx::Error> {
    RoaringBitmap::deserialize_from(bytes).map_err(undecodable)
}

/// A set as `customer_sets.customers` keeps it.
fn encode(set: &RoaringBitmap) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(set.serialized_size());
    set.serialize_into(&mut bytes)
        .expect("writing to a vector cannot fail");
    bytes
}

/// Reads what `icash_customer_sets_of` returns for `filter`'s period ([`Cover`]) in one statement
/// (one snapshot), handing each row to `each`; the counts rather than the sets when `counted`.
/// `false` while the sets are being built again.
async fn read_period(
    conn: &mut PgConnection,
    filter: &Filter,
    counted: bool,
    mut each: impl FnMut(PeriodRow) -> Result<(), sqlx::Error>,
) -> Result<bool, sqlx::Error> {
    let cover = Cover::new(filter.from(), filter.to());
    let spans: Vec<Option<DateTime<Utc>>> = cover
        .edges
        .iter()
        .chain(&cover.hours)
        .chain(&cover.days)
        .chain([&cover.months])
        .flat_map(|span| [span.from, span.to])
        .collect();
    let statement = sqlx::query_as::<_, PeriodRow>(
        "SELECT customers, counts, customer_number, purchases, rebuilding
         FROM icash_customer_sets_of($1, $2, $3, $4, $5)",
    )
    .bind(filter.branch().map(BranchId::get))
    .bind(filter.from())
    .bind(filter.to())
    .bind(spans)
    .bind(counted);
    let mut rows = statement.fetch(conn);
    while let Some(row) = rows.try_next().await? {
        if row.rebuilding {
            return Ok(false);
        }
        each(row)?;
    }
    Ok(true)
}

/// How many distinct customers made a purchase not voided under `filter`, or `None` while the
/// sets are being built again (the caller then counts from the purchases): the sets, pending
/// rows and edge customers of the period, unioned.
pub(crate) async fn count(
    conn: &mut PgConnection,
    filter: &Filter,
) -> Result<Option<u64>, sqlx::Error> {
    let mut customers = RoaringBitmap::new();
    let complete = read_period(conn, filter, false, |row| {
        if let Some(bytes) = row.customers {
            customers |= decode(&bytes)?;
        }
        if let Some(number) = row.customer_number {
            customers.insert(member(number));
        }
        Ok(())
    })
    .await?;
    Ok(complete.then(|| customers.len()))
}

/// How many purchases not voided each customer made under `filter`, or `None` while the sets are
/// being built again: the counts, pending rows and edge customers of the period, added up.
pub(crate) async fn counts(
    conn: &mut PgConnection,
    filter: &Filter,
) -> Result<Option<Counts>, sqlx::Error> {
    // The rows come from the shortest units to the longest: adding the small counts first keeps
    // the sum small until the months come.
    let mut counts = Counts::default();
    let mut tail = Vec::new();
    let complete = read_period(conn, filter, true, |row| {
        if let Some(bytes) = row.counts {
            counts.add(&Counts::decode(&bytes).map_err(undecodable)?);
        }
        if let (Some(number), Some(purchases)) = (row.customer_number, row.purchases) {
            let purchases = u32::try_from(purchases).expect("a positive count under 2^32");
            tail.push((member(number), purchases));
        }
        Ok(())
    })
    .await?;
    counts.add(&Counts::from_pairs(tail));
    Ok(complete.then_some(counts))
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

/// The counts of the sets at `keys` as they are kept now.
async fn read_sets(
    conn: &mut PgConnection,
    keys: impl Iterator<Item = SetKey>,
) -> Result<BTreeMap<SetKey, Counts>, sqlx::Error> {
    let (mut branches, mut units, mut starts) = (Vec::new(), Vec::new(), Vec::new());
    for (branch, unit, start) in keys {
        branches.push(branch);
        units.push(unit.name());
        starts.push(start);
    }
    let rows: Vec<(i32, String, DateTime<Utc>, Vec<u8>)> = sqlx::query_as(
        // One lookup of the key per set, whatever the table's statistics say of its size.
        "SELECT s.branch_id, s.unit, s.starts, s.counts
         FROM unnest($1::integer[], $2::text[], $3::timestamptz[]) AS k (branch_id, unit, starts)
         CROSS JOIN LATERAL (
             SELECT * FROM customer_sets s
             WHERE s.branch_id = k.branch_id AND s.unit = k.unit AND s.starts = k.starts
         ) AS s",
    )
    .bind(branches)
    .bind(units)
    .bind(starts)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|(branch, unit, start, bytes)| {
            let unit = Unit::named(&unit).ok_or_else(|| {
                sqlx::Error::Decode(format!("unknown unit of a customer set: {unit}").into())
            })?;
            Ok((
                (branch, unit, start),
                Counts::decode(&bytes).map_err(undecodable)?,
            ))
        })
        .collect()
}

/// Writes `sets` (each as its set of customers and its counts) in place of those kept at their
/// keys; an empty set's row goes.
async fn write_sets(
    conn: &mut PgConnection,
    sets: &BTreeMap<SetKey, Counts>,
) -> Result<(), sqlx::Error> {
    let (mut branches, mut units, mut starts, mut customers, mut counts) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut gone_branches, mut gone_units, mut gone_starts) = (Vec::new(), Vec::new(), Vec::new());
    for ((branch, unit, start), set) in sets {
        if set.is_empty() {
            gone_branches.push(*branch);
            gone_units.push(unit.name());
            gone_starts.push(*start);
        } else {
            branches.push(*branch);
            units.push(unit.name());
            starts.push(*start);
            customers.push(encode(&set.customers()));
            counts.push(set.encode());
        }
    }
    // In key order, as every writer of the sets holds the same lock anyway.
    sqlx::query(
        "INSERT INTO customer_sets (branch_id, unit, starts, customers, counts)
         SELECT * FROM unnest($1::integer[], $2::text[], $3::timestamptz[], $4::bytea[], $5::bytea[])
         ON CONFLICT (branch_id, unit, starts)
         DO UPDATE SET customers = excluded.customers, counts = excluded.counts",
    )
    .bind(branches)
    .bind(units)
    .bind(starts)
    .bind(customers)
    .bind(counts)
    .execute(&mut *conn)
    .await?;
    if !gone_branches.is_empty() {
        sqlx::query(
            "DELETE FROM customer_sets s
             USING unnest($1::integer[], $2::text[], $3::timestamptz[]) AS k (branch_id, unit, starts)
             WHERE s.branch_id = k.branch_id AND s.unit = k.unit AND s.starts = k.starts",
        )
        .bind(gone_branches)
        .bind(gone_units)
        .bind(gone_starts)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
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
    branch_id: i32,
    purchased_at: DateTime<Utc>,
    customer_number: i32,
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
             RETURNING purchase_id, branch_id, purchased_at, customer_number
         )
         SELECT b.branch_id, b.purchased_at, b.customer_number,
                EXISTS (SELECT 1 FROM purchase_voids v WHERE v.purchase_id = b.purchase_id) AS voided
         FROM batch b",
    )
    .bind(BATCH)
    .fetch_all(&mut *tx)
    .await?;
    let folded = rows.len() as u64;
    let mut added: BTreeMap<SetKey, Vec<(u32, u32)>> = BTreeMap::new();
    for row in rows.iter().filter(|row| !row.voided) {
        for key in keys_of(row.branch_id, row.purchased_at) {
            added
                .entry(key)
                .or_default()
                .push((member(row.customer_number), 1));
        }
    }
    if !added.is_empty() {
        let mut sets = read_sets(&mut tx, added.keys().copied()).await?;
        for (key, more) in added {
            sets.entry(key).or_default().add(&Counts::from_pairs(more));
        }
        write_sets(&mut tx, &sets).await?;
    }
    tx.commit().await?;
    Ok(RollUp::Folded(folded))
}

/// Takes the voided purchase `purchase` out of the counts, in the void's transaction `conn`,
/// after the void's row is written: a purchase still pending loses its pending row (the rollup
/// would skip it anyway, and reads already do); a folded one takes one off its customer's
/// count in each set it was folded into, and the customer leaves a set where that was their
/// only purchase. Under the sets' lock, so the rollup has either folded the purchase or not.
pub(crate) async fn uncount_void(
    conn: &mut PgConnection,
    purchase: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(LOCK)
        .execute(&mut *conn)
        .await?;
    let pending = sqlx::query("DELETE FROM customer_set_pending WHERE purchase_id = $1")
        .bind(purchase)
        .execute(&mut *conn)
        .await?;
    if pending.rows_affected() > 0 {
        return Ok(());
    }
    let (branch, at, number): (i32, DateTime<Utc>, i32) = sqlx::query_as(
        "SELECT v.branch_id, v.purchased_at, c.number
         FROM purchase_voids v JOIN customers c ON c.id = v.customer_id
         WHERE v.purchase_id = $1",
    )
    .bind(purchase)
    .fetch_one(&mut *conn)
    .await?;
    let number = member(number);
    let mut sets = read_sets(conn, keys_of(branch, at)).await?;
    for counts in sets.values_mut() {
        // A set without the customer is one being built again (a bulk load's purchases are
        // folded nowhere): the rebuild reads the void.
        counts.set(number, counts.get(number).saturating_sub(1));
    }
    write_sets(conn, &sets).await
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
