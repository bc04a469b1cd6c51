-- GET /dashboard?from=..&to=..: the server's statements for a period in its order (the
-- statistics' two, the first 10 loyal customers, the product sales). Give the period with -D and
-- run with -M prepared, as analytics_unique_period.sql.
SELECT b.id AS branch_id, coalesce(s.purchases, 0) AS purchase_count,
       coalesce(s.revenue, 0) AS revenue
FROM branches b LEFT JOIN icash_branch_sales(NULL, :from::timestamptz, :to::timestamptz) s ON s.branch_id = b.id
WHERE NULL::integer IS NULL OR b.id = NULL::integer
ORDER BY b.id;
SELECT count(*) FROM (
    SELECT DISTINCT p.customer_id FROM purchases p
    WHERE NULL::integer IS NULL
      AND p.purchased_at >= coalesce(:from::timestamptz, '-infinity')
      AND p.purchased_at < coalesce(:to::timestamptz, 'infinity')
) AS customers;
WITH activity AS (
    SELECT p.customer_id, count(*) AS purchase_count, sum(p.total) AS total_spent,
           min(p.purchased_at) AS first_purchase, max(p.purchased_at) AS last_purchase
    FROM purchases p
    WHERE NULL::integer IS NULL
      AND p.purchased_at >= coalesce(:from::timestamptz, '-infinity')
      AND p.purchased_at < coalesce(:to::timestamptz, 'infinity')
    GROUP BY p.customer_id
    HAVING count(*) >= 3
),
page AS (
    SELECT * FROM activity
    WHERE NULL::bigint IS NULL
       OR purchase_count < NULL::bigint
       OR (purchase_count = NULL::bigint AND (total_spent < NULL::numeric OR (total_spent = NULL::numeric AND customer_id > NULL::uuid)))
    ORDER BY purchase_count DESC, total_spent DESC, customer_id
    LIMIT 10
)
SELECT (SELECT count(*) FROM activity) AS loyal_count, page.*
FROM (SELECT) AS one LEFT JOIN page ON true
ORDER BY page.purchase_count DESC, page.total_spent DESC, page.customer_id;
SELECT u.product_id, pr.name, u.units AS units_sold
FROM icash_product_units(NULL, :from::timestamptz, :to::timestamptz) u JOIN products pr ON pr.id = u.product_id;
