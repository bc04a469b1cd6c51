-- GET /analytics/statistics?from=..&to=..: the server's two statements for a period
-- (BRANCHES_IN_PERIOD with no branch, then the distinct customers). Give the period with -D and
-- run with -M prepared, as analytics_unique_period.sql.
WITH days AS (
    SELECT branch_id, sum(purchases) AS purchases, sum(revenue) AS revenue
    FROM branch_days
    WHERE (NULL::integer IS NULL OR branch_id = NULL::integer)
      AND (:from::timestamptz IS NULL OR day >= (icash_day_ceil(:from::timestamptz) AT TIME ZONE 'UTC')::date)
      AND (:to::timestamptz IS NULL OR day < (icash_day_floor(:to::timestamptz) AT TIME ZONE 'UTC')::date)
    GROUP BY branch_id
),
edges AS (
    SELECT branch_id, count(*) AS purchases, sum(total) AS revenue
    FROM (
        SELECT p.branch_id, p.total FROM purchases p
        WHERE (NULL::integer IS NULL OR p.branch_id = NULL::integer) AND :from::timestamptz IS NOT NULL
          AND p.purchased_at >= :from::timestamptz AND p.purchased_at < least(icash_day_ceil(:from::timestamptz), :to::timestamptz)
        UNION ALL
        SELECT p.branch_id, p.total FROM purchases p
        WHERE (NULL::integer IS NULL OR p.branch_id = NULL::integer) AND :to::timestamptz IS NOT NULL
          AND p.purchased_at >= greatest(icash_day_floor(:to::timestamptz), icash_day_ceil(:from::timestamptz)) AND p.purchased_at < :to::timestamptz
    ) AS partial_days
    GROUP BY branch_id
)
SELECT b.id AS branch_id,
       (coalesce(d.purchases, 0) + coalesce(e.purchases, 0))::bigint AS purchase_count,
       coalesce(d.revenue, 0) + coalesce(e.revenue, 0) AS revenue
FROM branches b
LEFT JOIN days d ON d.branch_id = b.id
LEFT JOIN edges e ON e.branch_id = b.id
WHERE NULL::integer IS NULL OR b.id = NULL::integer
ORDER BY b.id;
SELECT count(DISTINCT p.customer_id) FROM purchases p
WHERE (NULL::integer IS NULL OR p.branch_id = NULL::integer)
  AND (:from::timestamptz IS NULL OR p.purchased_at >= :from::timestamptz)
  AND (:to::timestamptz IS NULL OR p.purchased_at < :to::timestamptz);
