-- GET /analytics/top-products?from=..&to=..: the server's statement for a period (PRODUCT_UNITS
-- with no branch). Give the period with -D and run with -M prepared, as
-- analytics_unique_period.sql.
-- Written from the server's text, icash-postgres/src/analytics/sql/product_units.sql;
-- the test the_pgbench_ceilings_send_the_servers_statements checks that it still is.
SELECT u.product_id, pr.name, u.units AS units_sold
FROM icash_product_units(NULL::integer, :from::timestamptz, :to::timestamptz) u JOIN products pr ON pr.id = u.product_id;
