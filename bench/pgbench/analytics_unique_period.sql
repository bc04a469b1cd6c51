-- GET /analytics/unique-customers?from=..&to=..: distinct customers counted from the purchases
-- (UNIQUE_CUSTOMERS without a branch), what the server runs for a period while its customer sets
-- are built again after a bulk load, and otherwise the bound the sets avoid. Give the period with
-- -D, and run with -M prepared so that the instants are bound as the server binds them:
--   pgbench -M prepared -D from=2025-01-01T10:00:00Z -D to=2025-01-08T10:00:00Z -f analytics_unique_period.sql
-- Written from the server's text, icash-postgres/src/analytics/sql/unique_customers/period_all_branches.sql;
-- the test the_pgbench_ceilings_send_the_servers_statements checks that it still is.
SELECT count(*)
FROM (
    SELECT p.customer_id
    FROM (
        SELECT p.customer_id, 1 AS n
        FROM purchases p
        WHERE NULL::integer::integer IS NULL AND p.branch_id = ANY ((SELECT icash_branch_ids(NULL::integer))::integer[])
          AND p.purchased_at >= coalesce(:from::timestamptz::timestamptz, '-infinity')
          AND p.purchased_at < coalesce(:to::timestamptz::timestamptz, 'infinity')
        UNION ALL
        SELECT p.customer_id, -1
        FROM purchase_voids p
        WHERE NULL::integer::integer IS NULL AND p.branch_id = ANY ((SELECT icash_branch_ids(NULL::integer))::integer[])
          AND p.purchased_at >= coalesce(:from::timestamptz::timestamptz, '-infinity')
          AND p.purchased_at < coalesce(:to::timestamptz::timestamptz, 'infinity')
    ) AS p
    GROUP BY p.customer_id
    HAVING sum(p.n) > 0
) AS customers;
