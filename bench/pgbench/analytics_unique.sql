-- GET /analytics/unique-customers over the whole history: the server's one statement
-- (icash-postgres/src/analytics/sql/unique_customers/whole_history.sql), the SQL ceiling of the endpoint.
-- Written from the server's text, icash-postgres/src/analytics/sql/unique_customers/whole_history.sql;
-- the test the_pgbench_ceilings_send_the_servers_statements checks that it still is.
SELECT coalesce(sum(customers), 0)::bigint FROM customer_histogram WHERE purchases > 0;
