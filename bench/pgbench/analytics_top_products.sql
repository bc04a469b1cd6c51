-- GET /analytics/top-products over the whole history: the server's statement (PRODUCT_UNITS
-- with no filter); the ranking is done in Rust.
-- Written from the server's text, icash-postgres/src/analytics/sql/product_units.sql;
-- the test the_pgbench_ceilings_send_the_servers_statements checks that it still is.
SELECT pr.id AS product_id, pr.name, coalesce(u.units, 0) AS units_sold,
       coalesce(r.units, 0) AS units_returned
FROM icash_product_units(NULL::integer, NULL::timestamptz, NULL::timestamptz) u
     FULL JOIN icash_product_returns(NULL::integer, NULL::timestamptz, NULL::timestamptz) r ON r.product_id = u.product_id
     JOIN products pr ON pr.id = coalesce(u.product_id, r.product_id);
