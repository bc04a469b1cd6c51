-- GET /analytics/top-products?from=..&to=..: the server's statement for a period
-- (PRODUCTS_IN_PERIOD with no branch). Give the period with -D and run with -M prepared, as
-- analytics_unique_period.sql.
WITH days AS (
    SELECT product_id, sum(units) AS units
    FROM product_days
    WHERE (NULL::integer IS NULL OR branch_id = NULL::integer)
      AND (:from::timestamptz IS NULL OR day >= (icash_day_ceil(:from::timestamptz) AT TIME ZONE 'UTC')::date)
      AND (:to::timestamptz IS NULL OR day < (icash_day_floor(:to::timestamptz) AT TIME ZONE 'UTC')::date)
    GROUP BY product_id
),
partial_days AS (
    SELECT p.id FROM purchases p
    WHERE (NULL::integer IS NULL OR p.branch_id = NULL::integer) AND :from::timestamptz IS NOT NULL
      AND p.purchased_at >= :from::timestamptz AND p.purchased_at < least(icash_day_ceil(:from::timestamptz), :to::timestamptz)
    UNION ALL
    SELECT p.id FROM purchases p
    WHERE (NULL::integer IS NULL OR p.branch_id = NULL::integer) AND :to::timestamptz IS NOT NULL
      AND p.purchased_at >= greatest(icash_day_floor(:to::timestamptz), icash_day_ceil(:from::timestamptz)) AND p.purchased_at < :to::timestamptz
),
edges AS (
    SELECT l.product_id, count(*) AS units
    FROM partial_days e JOIN purchase_lines l ON l.purchase_id = e.id
    GROUP BY l.product_id
),
units AS (SELECT * FROM days UNION ALL SELECT * FROM edges)
SELECT u.product_id, pr.name, sum(u.units)::bigint AS units_sold
FROM units u JOIN products pr ON pr.id = u.product_id
GROUP BY u.product_id, pr.name;
