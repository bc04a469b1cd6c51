//! The sets built again from every purchase, a day at a time.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use sqlx::PgConnection;

use super::{SetKey, Tally, Unit, keys_of, member, write_set};

/// How many purchases not voided each customer made at each branch and hour of `[$1, $2)` (a
/// day), and
/// their cents, in hour order, less those still pending: a purchase committed while the rebuild
/// runs is read here and pending at once in this statement's snapshot, and only the rollup's
/// fold counts it. Voided purchases are subtracted as the period statements subtract them.
const DAY: &str = "
    SELECT h.branch_id, h.hour, h.number, sum(h.n)::bigint AS purchases, sum(h.cents)::bigint AS cents
    FROM (
        SELECT p.branch_id, p.hour, c.number, p.n, p.cents
        FROM (
            SELECT p.branch_id, icash_hour(p.purchased_at) AS hour, p.customer_id, sum(p.n) AS n,
                   sum(p.n * p.total * 100) AS cents
            FROM (
                SELECT p.branch_id, p.purchased_at, p.customer_id, p.total, 1 AS n
                FROM purchases p
                WHERE p.branch_id = ANY ((SELECT icash_branch_ids(NULL))::integer[])
                  AND p.purchased_at >= $1 AND p.purchased_at < $2
                UNION ALL
                SELECT p.branch_id, p.purchased_at, p.customer_id, p.total, -1
                FROM purchase_voids p
                WHERE p.branch_id = ANY ((SELECT icash_branch_ids(NULL))::integer[])
                  AND p.purchased_at >= $1 AND p.purchased_at < $2
            ) AS p
            GROUP BY 1, 2, 3
        ) AS p
        JOIN customers c ON c.id = p.customer_id
        UNION ALL
        SELECT q.branch_id, icash_hour(q.purchased_at), q.customer_number, -1, -q.cents
        FROM customer_set_pending q
        WHERE q.purchased_at >= $1 AND q.purchased_at < $2
          AND NOT EXISTS (SELECT 1 FROM purchase_voids v WHERE v.purchase_id = q.purchase_id)
    ) AS h
    GROUP BY 1, 2, 3
    HAVING sum(h.n) > 0
    ORDER BY 2";

/// Builds every set again from the purchases, in the rollup's transaction `conn` (which holds
/// the sets' lock), and drops the request to rebuild. The pending rows stay for the rollup.
pub(super) async fn rebuild(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM customer_sets")
        .execute(&mut *conn)
        .await?;
    let (first, last): (Option<DateTime<Utc>>, Option<DateTime<Utc>>) = sqlx::query_as(
        "SELECT min(f.at), max(l.at)
         FROM branches b,
              LATERAL (SELECT min(purchased_at) AS at FROM purchases WHERE branch_id = b.id) AS f,
              LATERAL (SELECT max(purchased_at) AS at FROM purchases WHERE branch_id = b.id) AS l",
    )
    .fetch_one(&mut *conn)
    .await?;
    if let (Some(first), Some(last)) = (first, last) {
        // A day's hour and day sets are written once the day is read; a month's sets add up
        // over its days and are written at its end. No more than a day of sets and a month's
        // are held at once.
        let mut day = Unit::Day.start(first);
        let mut months: BTreeMap<SetKey, Tally> = BTreeMap::new();
        while day <= last {
            let next = Unit::Day.next(day);
            for (key, set) in day_sets(&mut *conn, day, next).await? {
                match key.1 {
                    Unit::Month => months.entry(key).or_default().add(&set),
                    Unit::Hour | Unit::Day => write_set(&mut *conn, key, &set).await?,
                }
            }
            if Unit::Month.start(next) != Unit::Month.start(day) || next > last {
                for (key, set) in std::mem::take(&mut months) {
                    write_set(&mut *conn, key, &set).await?;
                }
            }
            day = next;
        }
    }
    sqlx::query("DELETE FROM customer_sets_rebuild")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// One hour's rows, per branch and hour: each customer's number, purchases and cents.
type HourRows = BTreeMap<(i32, DateTime<Utc>), Vec<(u32, u64, u64)>>;

/// What the purchases of the day `[day, next)` add to the sets, an hour at a time: each hour's
/// tallies per branch are added into the hour's, day's and month's sets, of the branch and of
/// every branch, so that no more than one hour's rows are held apart from the sets.
async fn day_sets(
    conn: &mut PgConnection,
    day: DateTime<Utc>,
    next: DateTime<Utc>,
) -> Result<BTreeMap<SetKey, Tally>, sqlx::Error> {
    let mut sets: BTreeMap<SetKey, Tally> = BTreeMap::new();
    let mut hour = HourRows::new();
    let mut fold = |hour: &mut HourRows| {
        for ((branch, at), rows) in std::mem::take(hour) {
            let tally = Tally::from_rows(rows);
            for key in keys_of(branch, at) {
                sets.entry(key).or_default().add(&tally);
            }
        }
    };
    let mut rows = sqlx::query_as::<_, (i32, DateTime<Utc>, i32, i64, i64)>(DAY)
        .bind(day)
        .bind(next)
        .fetch(&mut *conn);
    while let Some((branch, at, number, purchases, cents)) = rows.try_next().await? {
        if hour
            .keys()
            .next()
            .is_some_and(|(_, current)| *current != at)
        {
            fold(&mut hour);
        }
        let purchases = u64::try_from(purchases).expect("a positive count");
        let cents = u64::try_from(cents).expect("totals are not negative");
        hour.entry((branch, at))
            .or_default()
            .push((member(number), purchases, cents));
    }
    drop(rows);
    fold(&mut hour);
    Ok(sets)
}
