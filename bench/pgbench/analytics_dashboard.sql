-- GET /dashboard over the whole history: the server's one statement (DASHBOARD: the
-- statistics, the first 10 loyal customers and the count of all, the product sales, each list
-- as arrays), which PostgreSQL reads in one snapshot.
-- Written from the server's text, icash-postgres/src/analytics/sql/dashboard/whole_history.sql;
-- the test the_pgbench_ceilings_send_the_servers_statements checks that it still is.
SELECT statistics.*, loyal.*, units.*
FROM (
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
    ) AS s
) AS statistics, (
    SELECT coalesce(max(l.loyal_count), 0) AS loyal_count,
           coalesce(array_agg(l.customer_id ORDER BY l.purchase_count DESC, l.total_spent DESC, l.customer_id)
                    FILTER (WHERE l.customer_id IS NOT NULL), '{}') AS loyal_ids,
           coalesce(array_agg(l.purchase_count ORDER BY l.purchase_count DESC, l.total_spent DESC, l.customer_id)
                    FILTER (WHERE l.customer_id IS NOT NULL), '{}') AS loyal_purchases,
           coalesce(array_agg(l.total_spent ORDER BY l.purchase_count DESC, l.total_spent DESC, l.customer_id)
                    FILTER (WHERE l.customer_id IS NOT NULL), '{}') AS loyal_spent,
           coalesce(array_agg(l.first_purchase ORDER BY l.purchase_count DESC, l.total_spent DESC, l.customer_id)
                    FILTER (WHERE l.customer_id IS NOT NULL), '{}') AS loyal_first,
           coalesce(array_agg(l.last_purchase ORDER BY l.purchase_count DESC, l.total_spent DESC, l.customer_id)
                    FILTER (WHERE l.customer_id IS NOT NULL), '{}') AS loyal_last
    FROM (
        WITH page AS (
            SELECT id AS customer_id, purchases AS purchase_count, spent AS total_spent, first_purchase, last_purchase
            FROM customers
            WHERE purchases >= 3
              AND (NULL::bigint::bigint IS NULL
                   OR purchases < NULL::bigint
                   OR (purchases = NULL::bigint AND (spent < NULL::numeric OR (spent = NULL::numeric AND id > NULL::uuid))))
            ORDER BY purchases DESC, spent DESC, id
            LIMIT 10
        )
        SELECT (SELECT coalesce(sum(customers), 0)::bigint FROM customer_histogram WHERE purchases >= 3) AS loyal_count, page.*
        FROM (SELECT) AS one LEFT JOIN page ON true
        ORDER BY page.purchase_count DESC, page.total_spent DESC, page.customer_id
    ) AS l
) AS loyal, (
    SELECT coalesce(array_agg(u.product_id), '{}') AS product_ids,
           coalesce(array_agg(u.name), '{}') AS product_names,
           coalesce(array_agg(u.units_sold), '{}') AS product_units,
           coalesce(array_agg(u.units_returned), '{}') AS product_returns
    FROM (
        SELECT pr.id AS product_id, pr.name, coalesce(u.units, 0) AS units_sold,
               coalesce(r.units, 0) AS units_returned
        FROM icash_product_units(NULL::integer, NULL::timestamptz, NULL::timestamptz) u
             FULL JOIN icash_product_returns(NULL::integer, NULL::timestamptz, NULL::timestamptz) r ON r.product_id = u.product_id
             JOIN products pr ON pr.id = coalesce(u.product_id, r.product_id)
    ) AS u
) AS units;
