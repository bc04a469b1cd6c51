-- GET /analytics/statistics?supermarket_id=..&from=..&to=..: the server's one statement for one
-- branch over a period. Give the branch and the period with -D (-D branch=2) and run with
-- -M prepared, as analytics_unique_period.sql.
-- Written from the server's text, icash-postgres/src/analytics/sql/statistics/period.sql;
-- the test the_pgbench_ceilings_send_the_servers_statements checks that it still is.
-- The distinct customers are counted by the server from the customer sets, whose versions this
-- statement reads beside the figures; pgbench gives no cover, so that it reads no set.
SELECT t.*, v.*
FROM (
    SELECT NULL::bigint AS unique_customers,
           coalesce(array_agg(s.branch_id ORDER BY s.branch_id), '{}') AS branch_ids,
           coalesce(array_agg(s.purchase_count ORDER BY s.branch_id), '{}') AS branch_purchases,
           coalesce(array_agg(s.revenue ORDER BY s.branch_id), '{}') AS branch_revenues,
           coalesce(array_agg(s.refunds ORDER BY s.branch_id), '{}') AS branch_refunds,
           coalesce(array_agg(s.refund_amount ORDER BY s.branch_id), '{}') AS branch_refund_amounts
    FROM (
        SELECT b.id AS branch_id, coalesce(s.purchases, 0) AS purchase_count,
               coalesce(s.revenue, 0) AS revenue,
               coalesce(r.refunds, 0) AS refunds, coalesce(r.amount, 0) AS refund_amount
        FROM branches b LEFT JOIN icash_branch_sales(:branch::integer, :from::timestamptz, :to::timestamptz) s ON s.branch_id = b.id
             LEFT JOIN icash_branch_refunds(:branch::integer, :from::timestamptz, :to::timestamptz) r ON r.branch_id = b.id
        WHERE :branch::integer::integer IS NULL OR b.id = :branch::integer
    ) AS s
) AS t
CROSS JOIN icash_customer_set_versions(:branch::integer, :from::timestamptz, :to::timestamptz, NULL::timestamptz[]) AS v;
