//! Batches of purchases from tills that were offline, on PostgreSQL.
//!
//! A batch costs a few round trips whatever its size: the client ids recorded before are
//! looked up at once; every item is priced at its sale time at once; the domain prices each
//! purchase ([`NewPurchase::price`]) and keeps those it accepts; one statement writes them all
//! (purchases, customers, lines), so the aggregates' statement-level triggers run once for the
//! batch. Each purchase stands alone: a refused one is never sent, and one whose client id a
//! racing request recorded first is skipped by the unique index (`ON CONFLICT DO NOTHING`,
//! which waits for that request to end) and answered with that request's purchase.
//!
//! The purchases are inserted in client id order, so two batches that share client ids wait
//! on each other's index entries in one order and never deadlock.

use std::collections::HashMap;

use icash_core::{
    BatchOutcome, ClientId, Error, KeyName, NewPurchase, PricedPurchase, ProductAtSale, ProductId,
    PurchaseId, Result, ValidationError,
};
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::from_sqlx;
use crate::purchase::SaleRow;

/// Writes the accepted purchases of a batch, numbered from the purchases' sequence in batch
/// order; returns the ids written (those whose client id was not taken).
const RECORD_BATCH: &str = "
    WITH given AS MATERIALIZED (
        SELECT given.*, nextval(pg_get_serial_sequence('purchases', 'id')) AS id
        FROM unnest($1::integer[], $2::integer[], $3::uuid[], $4::timestamptz[], $5::numeric[],
                    $6::text[], $7::uuid[])
             AS given (n, branch_id, customer_id, purchased_at, total, recorded_by, client_id)
    ),
    purchase AS (
        INSERT INTO purchases (id, branch_id, customer_id, purchased_at, total, recorded_by, client_id)
        SELECT id, branch_id, customer_id, purchased_at, total, recorded_by, client_id
        FROM given
        ORDER BY client_id, n
        ON CONFLICT ((coalesce(recorded_by, '')), client_id) WHERE client_id IS NOT NULL DO NOTHING
        RETURNING id, customer_id
    ),
    customer AS (
        INSERT INTO customers (id)
        SELECT DISTINCT customer_id FROM purchase
        WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = purchase.customer_id)
        ORDER BY 1
        ON CONFLICT DO NOTHING
    ),
    lines AS (
        INSERT INTO purchase_lines (purchase_id, product_id, position, unit_price)
        SELECT purchase.id, line.product_id, line.position, line.unit_price
        FROM unnest($8::integer[], $9::integer[], $10::smallint[], $11::numeric[])
             AS line (n, product_id, position, unit_price)
        JOIN given ON given.n = line.n
        JOIN purchase ON purchase.id = given.id
    )
    SELECT given.n, given.id FROM given JOIN purchase ON purchase.id = given.id";

/// The place of each purchase whose client id its key recorded before, with that purchase.
///
/// One look-up in the client ids' unique index per purchase (the `LIMIT 1` keeps PostgreSQL
/// from turning the lateral look-up into a join): statistics taken before the store had client
/// ids would otherwise plan a pass over all of them for every purchase of the batch.
async fn recorded_before(
    conn: &mut PgConnection,
    purchases: &[(usize, &NewPurchase)],
) -> Result<HashMap<usize, PurchaseId>> {
    let places: Vec<i32> = purchases.iter().map(|(place, _)| *place as i32).collect();
    let scopes: Vec<&str> = purchases
        .iter()
        .map(|(_, purchase)| purchase.recorder().map_or("", KeyName::as_str))
        .collect();
    let clients: Vec<Option<Uuid>> = purchases
        .iter()
        .map(|(_, purchase)| purchase.client_id().map(ClientId::uuid))
        .collect();
    let rows: Vec<(i32, i64)> = sqlx::query_as(
        "SELECT given.place, found.id
         FROM unnest($1::integer[], $2::text[], $3::uuid[]) AS given (place, scope, client_id)
         CROSS JOIN LATERAL (
             SELECT purchases.id FROM purchases
             WHERE coalesce(purchases.recorded_by, '') = given.scope
               AND purchases.client_id = given.client_id
               AND purchases.client_id IS NOT NULL
             LIMIT 1
         ) AS found",
    )
    .bind(places)
    .bind(scopes)
    .bind(clients)
    .fetch_all(conn)
    .await
    .map_err(from_sqlx)?;
    rows.into_iter()
        .map(|(place, id)| Ok((place as usize, PurchaseId::new(id)?)))
        .collect()
}

/// What the catalog says of each item of `purchases` at its purchase's sale time, by place
/// and product.
async fn prices_at_sale(
    conn: &mut PgConnection,
    purchases: &[(usize, &NewPurchase)],
) -> Result<HashMap<(usize, ProductId), ProductAtSale>> {
    let mut places = Vec::new();
    let mut products = Vec::new();
    let mut times = Vec::new();
    for (place, purchase) in purchases {
        for product in purchase.products() {
            places.push(*place as i32);
            products.push(product.get());
            times.push(purchase.at());
        }
    }
    #[derive(sqlx::FromRow)]
    struct Row {
        place: i32,
        #[sqlx(flatten)]
        product: SaleRow,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT wanted.place, products.id, products.name, price.price, products.added_at,
                products.retired_at
         FROM unnest($1::integer[], $2::integer[], $3::timestamptz[]) AS wanted (place, product_id, sold_at)
         JOIN products ON products.id = wanted.product_id
         LEFT JOIN LATERAL (
             SELECT product_prices.price FROM product_prices
             WHERE product_prices.product_id = products.id
               AND product_prices.effective_from <= wanted.sold_at
             ORDER BY product_prices.effective_from DESC
             LIMIT 1
         ) AS price ON true",
    )
    .bind(places)
    .bind(products)
    .bind(times)
    .fetch_all(conn)
    .await
    .map_err(from_sqlx)?;
    rows.into_iter()
        .map(|row| {
            let (product, at_sale) = row.product.at_sale()?;
            Ok(((row.place as usize, product), at_sale))
        })
        .collect()
}

/// Writes `accepted` (each with its place in the batch) in one statement; returns the places
/// written, with their ids.
async fn write(
    conn: &mut PgConnection,
    accepted: &[(usize, PricedPurchase)],
) -> Result<HashMap<usize, PurchaseId>> {
    let mut places = Vec::new();
    let mut branches = Vec::new();
    let mut customers = Vec::new();
    let mut times = Vec::new();
    let mut totals = Vec::new();
    let mut recorders = Vec::new();
    let mut clients = Vec::new();
    let (mut line_places, mut line_products, mut positions, mut prices) = (
        Vec::new(),
        Vec::new(),
        Vec::<i16>::new(),
        Vec::<Decimal>::new(),
    );
    for (place, purchase) in accepted {
        places.push(*place as i32);
        branches.push(purchase.branch().get());
        customers.push(purchase.customer().uuid());
        times.push(purchase.at());
        totals.push(purchase.total().amount());
        recorders.push(purchase.recorder().map(KeyName::as_str));
        clients.push(purchase.client_id().map(ClientId::uuid));
        for (position, line) in purchase.lines().iter().enumerate() {
            line_places.push(*place as i32);
            line_products.push(line.product().get());
            positions.push(position as i16);
            prices.push(line.unit_price().amount());
        }
    }
    let written: Vec<(i32, i64)> = sqlx::query_as(RECORD_BATCH)
        .bind(places)
        .bind(branches)
        .bind(customers)
        .bind(times)
        .bind(totals)
        .bind(recorders)
        .bind(clients)
        .bind(line_places)
        .bind(line_products)
        .bind(positions)
        .bind(prices)
        .fetch_all(conn)
        .await
        .map_err(from_sqlx)?;
    written
        .into_iter()
        .map(|(place, id)| Ok((place as usize, PurchaseId::new(id)?)))
        .collect()
}

/// Records a batch: one outcome per purchase, in order (see the module's documentation).
pub(crate) async fn record_batch(
    conn: &mut PgConnection,
    purchases: &[NewPurchase],
) -> Result<Vec<BatchOutcome>> {
    let all: Vec<(usize, &NewPurchase)> = purchases.iter().enumerate().collect();
    let before = recorded_before(conn, &all).await?;
    let fresh: Vec<(usize, &NewPurchase)> = all
        .iter()
        .copied()
        .filter(|(place, _)| !before.contains_key(place))
        .collect();
    let catalog = prices_at_sale(conn, &fresh).await?;
    let branches: Vec<i32> = sqlx::query_scalar("SELECT id FROM branches")
        .fetch_all(&mut *conn)
        .await
        .map_err(from_sqlx)?;

    let mut outcomes: Vec<Option<BatchOutcome>> = all
        .iter()
        .map(|(place, _)| {
            before
                .get(place)
                .copied()
                .map(BatchOutcome::AlreadyRecorded)
        })
        .collect();
    // The first accepted purchase of each (key, client id) in the batch; a later one with the
    // same pair is answered with the first's purchase, as if it had come in a later request.
    let mut first_of: HashMap<(Option<&KeyName>, ClientId), usize> = HashMap::new();
    let mut repeats: Vec<(usize, usize)> = Vec::new();
    let mut accepted: Vec<(usize, PricedPurchase)> = Vec::new();
    for (place, purchase) in fresh {
        let priced = if branches.contains(&purchase.branch().get()) {
            purchase.price(purchase.customer().resolve(), |id| {
                catalog.get(&(place, id)).cloned()
            })
        } else {
            Err(ValidationError::UnknownBranch(purchase.branch()))
        };
        match priced {
            Err(error) => outcomes[place] = Some(BatchOutcome::Refused(error.into())),
            Ok(priced) => {
                if let Some(client_id) = purchase.client_id() {
                    if let Some(&first) = first_of.get(&(purchase.recorder(), client_id)) {
                        repeats.push((place, first));
                        continue;
                    }
                    first_of.insert((purchase.recorder(), client_id), place);
                }
                accepted.push((place, priced));
            }
        }
    }

    let written = if accepted.is_empty() {
        HashMap::new()
    } else {
        write(conn, &accepted).await?
    };
    let mut raced = Vec::new();
    for (place, _) in &accepted {
        match written.get(place) {
            Some(&id) => outcomes[*place] = Some(BatchOutcome::Recorded(id)),
            None => raced.push((*place, &purchases[*place])),
        }
    }
    if !raced.is_empty() {
        // Their client ids were taken by requests that committed while this one ran.
        let taken = recorded_before(conn, &raced).await?;
        for (place, _) in raced {
            let id = taken
                .get(&place)
                .ok_or_else(|| Error::internal("a client id conflicted with no purchase"))?;
            outcomes[place] = Some(BatchOutcome::AlreadyRecorded(*id));
        }
    }
    for (place, first) in repeats {
        let id = outcomes[first]
            .as_ref()
            .and_then(BatchOutcome::purchase)
            .ok_or_else(|| Error::internal("an accepted purchase has no outcome"))?;
        outcomes[place] = Some(BatchOutcome::AlreadyRecorded(id));
    }
    outcomes
        .into_iter()
        .map(|outcome| {
            outcome.ok_or_else(|| Error::internal("a purchase of the batch has no outcome"))
        })
        .collect()
}
