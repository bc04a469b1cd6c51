-- GET /analytics/statistics over the whole history: the server's one statement (STATISTICS:
-- the distinct customers, and the branches' purchases and revenue as arrays).
-- Written from the server's text, icash-postgres/src/analytics/sql/statistics/whole_history.sql;
-- the test the_pgbench_ceilings_send_the_servers_statements checks that it still is.
SELECT (SELECT coalesce(sum(customers), 0)::bigint FROM customer_histogram WHERE purchases > 0) AS unique_customers,
       coalesce(array_agg(s.branch_id ORDER BY s.branch_id), '{}') AS branch_ids,
       coalesce(array_agg(s.purchase_count ORDER BY s.branch_id), '{}') AS branch_purchases,
       coalesce(array_agg(s.revenue ORDER BY s.branch_id), '{}') AS branch_revenues,
       coalesce(array_agg(s.refunds ORDER BY s.branch_id), '{}') AS branch_refunds,
       coalesce(array_agg(s.refund_amount ORDER BY s.branch_id), '{}') AS branch_refund_amounts
FROM (
    SELECT b.id AS branch_id, coalesce(s.purchases, 0) AS purchase_count,
           coalesce(s.revenue, 0) AS revenue,
           coalesce(r.refunds, 0) AS refunds, coalesce(r.amount, 0) AS refund_amount
    FROM branches b LEFT JOIN icash_branch_sales(NULL::integer, NULL::timestamptz, NULL::timestamptz) s ON s.branch_id = b.id
         LEFT JOIN icash_branch_refunds(NULL::integer, NULL::timestamptz, NULL::timestamptz) r ON r.branch_id = b.id
    WHERE NULL::integer::integer IS NULL OR b.id = NULL::integer
) AS s;
