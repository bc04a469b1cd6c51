-- GET /analytics/loyal-customers?limit=100 over the whole history: the server's statement
-- (LOYAL_CUSTOMERS over the whole history: 3 or more purchases, first page, 100 entries).
-- Written from the server's text, icash-postgres/src/analytics/sql/loyal_customers/whole_history.sql;
-- the test the_pgbench_ceilings_send_the_servers_statements checks that it still is.
WITH page AS (
    SELECT id AS customer_id, purchases AS purchase_count, spent AS total_spent, first_purchase, last_purchase
    FROM customers
    WHERE purchases >= 3
      AND (NULL::bigint::bigint IS NULL
           OR purchases < NULL::bigint
           OR (purchases = NULL::bigint AND (spent < NULL::numeric OR (spent = NULL::numeric AND id > NULL::uuid))))
    ORDER BY purchases DESC, spent DESC, id
    LIMIT 100
)
SELECT (SELECT coalesce(sum(customers), 0)::bigint FROM customer_histogram WHERE purchases >= 3) AS loyal_count, page.*
FROM (SELECT) AS one LEFT JOIN page ON true
ORDER BY page.purchase_count DESC, page.total_spent DESC, page.customer_id;
