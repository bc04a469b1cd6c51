//! The sets built again from every purchase, a month at a time.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use roaring::RoaringBitmap;
use sqlx::PgConnection;

use super::{SetKey, Unit, keys_of, member, write_sets};

/// The customers of each branch and hour of `[$1, $2)` who made a purchase not voided there,
/// voided purchases subtracted as the period statements subtract them.
const MONTH: &str = "
    SELECT h.branch_id, h.hour, c.number
    FROM (
        SELECT p.branch_id, icash_hour(p.purchased_at) AS hour, p.customer_id
        FROM (
            SELECT p.branch_id, p.purchased_at, p.customer_id, 1 AS n
            FROM purchases p
            WHERE p.branch_id = ANY ((SELECT icash_branch_ids(NULL))::integer[])
              AND p.purchased_at >= $1 AND p.purchased_at < $2
            UNION ALL
            SELECT p.branch_id, p.purchased_at, p.customer_id, -1
            FROM purchase_voids p
            WHERE p.branch_id = ANY ((SELECT icash_branch_ids(NULL))::integer[])
              AND p.purchased_at >= $1 AND p.purchased_at < $2
        ) AS p
        GROUP BY 1, 2, 3
        HAVING sum(p.n) > 0
    ) AS h
    JOIN customers c ON c.id = h.customer_id";

/// Builds every set again from the purchases, in the rollup's transaction `conn` (which holds
/// the sets' lock), and drops the pending rows and the request to rebuild.
///
/// The pending rows go first: every one of them belongs to a purchase committed before this
/// statement, which the later statements that read the purchases see. A purchase committed in
/// between is read and also left pending, which a union forgives.
pub(super) async fn rebuild(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM customer_set_pending")
        .execute(&mut *conn)
        .await?;
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
        let mut month = Unit::Month.start(first);
        while month <= last {
            let next = Unit::Month.next(month);
            let mut sets: BTreeMap<SetKey, RoaringBitmap> = BTreeMap::new();
            let mut rows = sqlx::query_as::<_, (i32, DateTime<Utc>, i32)>(MONTH)
                .bind(month)
                .bind(next)
                .fetch(&mut *conn);
            while let Some((branch, hour, number)) = rows.try_next().await? {
                for key in keys_of(branch, hour) {
                    sets.entry(key).or_default().insert(member(number));
                }
            }
            drop(rows);
            write_sets(&mut *conn, &sets).await?;
            month = next;
        }
    }
    sqlx::query("DELETE FROM customer_sets_rebuild")
        .execute(&mut *conn)
        .await?;
    Ok(())
}
