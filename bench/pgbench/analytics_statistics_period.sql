-- GET /analytics/statistics?from=..&to=..: the server's two statements for a period
-- (BRANCH_SALES with no branch, then the distinct customers). Give the period with -D and run
-- with -M prepared, as analytics_unique_period.sql.
-- In one read-only snapshot, as the server reads them (its rollback rides on the pool's check
-- of the returned connection; here it is a round trip of its own).
BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
SELECT b.id AS branch_id, coalesce(s.purchases, 0) AS purchase_count,
       coalesce(s.revenue, 0) AS revenue
FROM branches b LEFT JOIN icash_branch_sales(NULL, :from::timestamptz, :to::timestamptz) s ON s.branch_id = b.id
WHERE NULL::integer IS NULL OR b.id = NULL::integer
ORDER BY b.id;
SELECT count(*) FROM (
    SELECT DISTINCT p.customer_id FROM purchases p
    WHERE NULL::integer IS NULL AND p.branch_id = ANY ((SELECT icash_branch_ids(NULL::integer))::integer[])
      AND p.purchased_at >= coalesce(:from::timestamptz, '-infinity')
      AND p.purchased_at < coalesce(:to::timestamptz, 'infinity')
) AS customers;
ROLLBACK;
