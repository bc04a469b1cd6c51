-- Loads the staged CSV rows into the icash schema in one transaction, one INSERT per table, so
-- that the aggregate triggers (statement-level, with transition tables) run once over all the
-- rows instead of once per batch. bench/run.sh uses it with BENCH_LOAD=sql, for sizes where the
-- server's own first-start load takes too long; the result is the same data (same ids, prices,
-- positions and aggregates) as the server's load of the same files.
--
-- Before it, the database is migrated (the server started once on it) and the CSV files are
-- copied as they are into bench_products (name, price) and bench_purchases (supermarket, ts,
-- user_id, items, total), whose identity column n numbers the rows in file order.
\set ON_ERROR_STOP on
\timing on
BEGIN;
INSERT INTO products (id, name, price) SELECT n, name, price FROM bench_products ORDER BY n;
INSERT INTO customers (id) SELECT DISTINCT user_id FROM bench_purchases;
-- The file's timestamps have no zone: the server takes them as UTC.
INSERT INTO purchases (id, branch_id, customer_id, purchased_at, total)
SELECT n, substr(supermarket, 5)::integer, user_id, ts::timestamp AT TIME ZONE 'UTC', total
FROM bench_purchases ORDER BY n;
INSERT INTO purchase_lines (purchase_id, product_id, position, unit_price)
SELECT s.n, pr.id, (i.ord - 1)::smallint, pr.price
FROM bench_purchases s
CROSS JOIN LATERAL unnest(string_to_array(s.items, ',')) WITH ORDINALITY AS i (name, ord)
JOIN products pr ON pr.name = i.name;
SELECT setval(pg_get_serial_sequence('purchases', 'id'), (SELECT max(id) FROM purchases));
DROP TABLE bench_products, bench_purchases;
COMMIT;
