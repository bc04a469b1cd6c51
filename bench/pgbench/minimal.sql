-- The minimal transaction that records a purchase: the customer, the purchase and its lines by
-- plain INSERTs in one transaction, without pricing from the catalog (a flat 2.50 a unit). It
-- is the floor of what recording a purchase costs on this schema: the same rows, indexes,
-- foreign keys and statement-level aggregate triggers as RECORD_ONE, in five round trips
-- (BEGIN, three INSERTs, COMMIT). Run it with `-M prepared`.
--
-- The variables are drawn as in record_one.sql: branch 1..3, 20% new customers and 80% a pool of
-- 10,000, 1..5 distinct products among 1..30.
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
BEGIN;
INSERT INTO customers (id) VALUES (md5(:customer::text)::uuid) ON CONFLICT DO NOTHING;
INSERT INTO purchases (branch_id, customer_id, purchased_at, total)
VALUES (:branch, md5(:customer::text)::uuid, now(), :count * 2.50)
RETURNING id AS purchase_id
\gset
\if :count = 1
INSERT INTO purchase_lines (purchase_id, product_id, position, unit_price)
VALUES (:purchase_id, :p1, 0, 2.50);
\elif :count = 2
INSERT INTO purchase_lines (purchase_id, product_id, position, unit_price)
VALUES (:purchase_id, :p1, 0, 2.50), (:purchase_id, :p2, 1, 2.50);
\elif :count = 3
INSERT INTO purchase_lines (purchase_id, product_id, position, unit_price)
VALUES (:purchase_id, :p1, 0, 2.50), (:purchase_id, :p2, 1, 2.50), (:purchase_id, :p3, 2, 2.50);
\elif :count = 4
INSERT INTO purchase_lines (purchase_id, product_id, position, unit_price)
VALUES (:purchase_id, :p1, 0, 2.50), (:purchase_id, :p2, 1, 2.50), (:purchase_id, :p3, 2, 2.50),
       (:purchase_id, :p4, 3, 2.50);
\else
INSERT INTO purchase_lines (purchase_id, product_id, position, unit_price)
VALUES (:purchase_id, :p1, 0, 2.50), (:purchase_id, :p2, 1, 2.50), (:purchase_id, :p3, 2, 2.50),
       (:purchase_id, :p4, 3, 2.50), (:purchase_id, :p5, 4, 2.50);
\endif
COMMIT;
