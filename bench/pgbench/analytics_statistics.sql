-- GET /analytics/statistics over the whole history: the server's two statements
-- (BRANCHES_IN_ALL with no branch, then the unique customers), the SQL ceiling of the endpoint.
SELECT b.id AS branch_id, coalesce(sum(t.purchases), 0)::bigint AS purchase_count,
       coalesce(sum(t.revenue), 0) AS revenue
FROM branches b LEFT JOIN branch_totals t ON t.branch_id = b.id
WHERE NULL::integer IS NULL OR b.id = NULL::integer
GROUP BY b.id
ORDER BY b.id;
SELECT coalesce(sum(customers), 0)::bigint FROM customer_histogram WHERE purchases > 0;
