-- GET /analytics/unique-customers over the whole history: the server's one statement
-- (icash-postgres/src/analytics.rs), the SQL ceiling of the endpoint.
SELECT coalesce(sum(customers), 0)::bigint FROM customer_histogram WHERE purchases > 0;
