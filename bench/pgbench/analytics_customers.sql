-- GET /cash-register/customers: the server's statement (the 20 customers with the most
-- purchases, first page).
-- Written from the server's text, icash-postgres/src/analytics/sql/top_customers.sql;
-- the test the_pgbench_ceilings_send_the_servers_statements checks that it still is.
SELECT id AS customer_id, purchases AS purchase_count
FROM customers
WHERE purchases > 0
  AND (NULL::bigint::bigint IS NULL OR purchases < NULL::bigint OR (purchases = NULL::bigint AND id > NULL::uuid))
ORDER BY purchases DESC, id
LIMIT 20;
