-- One purchase, recorded as the server records it: RECORD_ONE of icash-postgres/src/purchase.rs,
-- word for word, with pgbench variables for its parameters (no key and no client id: NULL, as
-- a purchase of the benchmark's open server). Run it with `-M prepared`, as
-- sqlx sends it (a named prepared statement, bound parameters).
--
--   $1 branch      random 1..3
--   $2 customer    20% a new UUID, 80% one of a pool of 10,000 (md5 of the pool index, so the
--                  same index always names the same customer)
--   $3 time        now()
--   $4 products    1..5 distinct ids among 1..30: a random first id and a random stride of 1..7
--                  (4 strides of at most 7 stay under 30, so the ids never repeat), cut to a
--                  random length with an array slice.
\set branch random(1, 3)
\set pick random(1, 100)
\if :pick <= 20
\set customer random(100000000, 9223372036854775807)
\else
\set customer random(1, 10000)
\endif
\set count random(1, 5)
\set p1 random(1, 30)
\set stride random(1, 7)
\set p2 (:p1 + :stride - 1) % 30 + 1
\set p3 (:p1 + 2 * :stride - 1) % 30 + 1
\set p4 (:p1 + 3 * :stride - 1) % 30 + 1
\set p5 (:p1 + 4 * :stride - 1) % 30 + 1
WITH wanted AS (
    SELECT id, position - 1 AS position
    FROM unnest((ARRAY[:p1, :p2, :p3, :p4, :p5]::integer[])[1:(:count)]) WITH ORDINALITY AS wanted (id, position)
),
priced AS (
    SELECT wanted.position, products.id, products.name, price.price,
           products.added_at, products.retired_at
    FROM wanted
    JOIN products ON products.id = wanted.id
    LEFT JOIN LATERAL (
        SELECT product_prices.price FROM product_prices
        WHERE product_prices.product_id = products.id AND product_prices.effective_from <= now()
        ORDER BY product_prices.effective_from DESC
        LIMIT 1
    ) AS price ON true
),
purchase AS (
    INSERT INTO purchases (branch_id, customer_id, purchased_at, total, recorded_by, client_id)
    SELECT :branch, md5(:customer::text)::uuid, now(), sum(price), NULL, NULL FROM priced
    HAVING count(price) = cardinality((ARRAY[:p1, :p2, :p3, :p4, :p5]::integer[])[1:(:count)])
       AND count(*) FILTER (WHERE retired_at <= now()) = 0
    ON CONFLICT ((coalesce(recorded_by, '')), client_id) WHERE client_id IS NOT NULL DO NOTHING
    RETURNING id
),
customer AS (
    INSERT INTO customers (id) SELECT md5(:customer::text)::uuid FROM purchase
    WHERE NOT EXISTS (SELECT 1 FROM customers WHERE id = md5(:customer::text)::uuid)
    ON CONFLICT DO NOTHING
),
lines AS (
    INSERT INTO purchase_lines (purchase_id, product_id, position, unit_price)
    SELECT purchase.id, priced.id, priced.position, priced.price FROM purchase, priced
)
SELECT (SELECT id FROM purchase) AS purchase_id, priced.id, priced.name, priced.price,
       priced.added_at, priced.retired_at,
       pg_current_wal_insert_lsn()::text AS wal, pg_current_xact_id_if_assigned()::text AS xact
FROM priced
ORDER BY priced.position;
