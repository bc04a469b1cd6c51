-- GET /analytics/top-products?from=..&to=..: the server's statement for a period (PRODUCT_UNITS
-- with no branch). Give the period with -D and run with -M prepared, as
-- analytics_unique_period.sql.
-- Written from the server's text, icash-postgres/src/analytics/sql/product_units.sql;
-- the test the_pgbench_ceilings_send_the_servers_statements checks that it still is.
SELECT pr.id AS product_id, pr.name, coalesce(u.units, 0) AS units_sold,
       coalesce(r.units, 0) AS units_returned
FROM icash_product_units(NULL::integer, :from::timestamptz, :to::timestamptz) u
     FULL JOIN icash_product_returns(NULL::integer, :from::timestamptz, :to::timestamptz) r ON r.product_id = u.product_id
     JOIN products pr ON pr.id = coalesce(u.product_id, r.product_id);
