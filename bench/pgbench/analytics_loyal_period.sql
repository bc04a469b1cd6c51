-- GET /analytics/loyal-customers?limit=100&from=..&to=..: the server's statement for a period
-- (LOYAL_CUSTOMERS for a period: the customers' purchases in the period grouped, 3 or more, first page of 100).
-- Give the period with -D and run with -M prepared, as analytics_unique_period.sql.
-- Written from the server's text, icash-postgres/src/analytics/sql/loyal_customers/period_all_branches.sql;
-- the test the_pgbench_ceilings_send_the_servers_statements checks that it still is.
WITH activity AS (
    SELECT p.customer_id, sum(p.n)::bigint AS purchase_count, sum(p.n * p.total) AS total_spent,
           min(p.purchased_at) AS first_purchase, max(p.purchased_at) AS last_purchase
    FROM (
        SELECT p.customer_id, p.purchased_at, p.total, sum(p.n) AS n
        FROM (
            SELECT p.customer_id, p.purchased_at, p.total, 1 AS n
            FROM purchases p
            WHERE NULL::integer::integer IS NULL AND p.branch_id = ANY ((SELECT icash_branch_ids(NULL::integer))::integer[])
              AND p.purchased_at >= coalesce(:from::timestamptz::timestamptz, '-infinity')
              AND p.purchased_at < coalesce(:to::timestamptz::timestamptz, 'infinity')
            UNION ALL
            SELECT p.customer_id, p.purchased_at, p.total, -1
            FROM purchase_voids p
            WHERE NULL::integer::integer IS NULL AND p.branch_id = ANY ((SELECT icash_branch_ids(NULL::integer))::integer[])
              AND p.purchased_at >= coalesce(:from::timestamptz::timestamptz, '-infinity')
              AND p.purchased_at < coalesce(:to::timestamptz::timestamptz, 'infinity')
        ) AS p
        GROUP BY p.customer_id, p.purchased_at, p.total
        HAVING sum(p.n) > 0
    ) AS p
    GROUP BY p.customer_id
    HAVING sum(p.n) >= 3
),
page AS (
    SELECT * FROM activity
    WHERE NULL::bigint::bigint IS NULL
       OR purchase_count < NULL::bigint
       OR (purchase_count = NULL::bigint AND (total_spent < NULL::numeric OR (total_spent = NULL::numeric AND customer_id > NULL::uuid)))
    ORDER BY purchase_count DESC, total_spent DESC, customer_id
    LIMIT 100
)
SELECT (SELECT count(*) FROM activity) AS loyal_count, page.*
FROM (SELECT) AS one LEFT JOIN page ON true
ORDER BY page.purchase_count DESC, page.total_spent DESC, page.customer_id;
