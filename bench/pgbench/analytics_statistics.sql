-- GET /analytics/statistics over the whole history: the server's two statements
-- (BRANCH_SALES with no filter, then the unique customers), the SQL ceiling of the endpoint.
-- In one read-only snapshot, as the server reads them (its rollback rides on the pool's check
-- of the returned connection; here it is a round trip of its own).
BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
SELECT b.id AS branch_id, coalesce(s.purchases, 0) AS purchase_count,
       coalesce(s.revenue, 0) AS revenue
FROM branches b LEFT JOIN icash_branch_sales(NULL, NULL, NULL) s ON s.branch_id = b.id
WHERE NULL::integer IS NULL OR b.id = NULL::integer
ORDER BY b.id;
SELECT coalesce(sum(customers), 0)::bigint FROM customer_histogram WHERE purchases > 0;
ROLLBACK;
