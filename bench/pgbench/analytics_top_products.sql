-- GET /analytics/top-products over the whole history: the server's statement (PRODUCT_UNITS
-- with no filter); the ranking is done in Rust.
-- Written from the server's text, icash-postgres/src/analytics/sql/product_units.sql;
-- the test the_pgbench_ceilings_send_the_servers_statements checks that it still is.
SELECT u.product_id, pr.name, u.units AS units_sold
FROM icash_product_units(NULL::integer, NULL::timestamptz, NULL::timestamptz) u JOIN products pr ON pr.id = u.product_id;
