-- GET /analytics/statistics?supermarket_id=..&from=..&to=..: the server's two statements for one
-- branch over a period. Give the branch and the period with -D (-D branch=2) and run with
-- -M prepared, as analytics_unique_period.sql.
-- In one read-only snapshot, as the server reads them (its rollback rides on the pool's check
-- of the returned connection; here it is a round trip of its own).
BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
SELECT b.id AS branch_id, coalesce(s.purchases, 0) AS purchase_count,
       coalesce(s.revenue, 0) AS revenue
FROM branches b LEFT JOIN icash_branch_sales(:branch::integer, :from::timestamptz, :to::timestamptz) s ON s.branch_id = b.id
WHERE :branch::integer IS NULL OR b.id = :branch::integer
ORDER BY b.id;
SELECT count(*) FROM (
    SELECT DISTINCT p.customer_id FROM purchases p
    WHERE p.branch_id = :branch::integer
      AND p.purchased_at >= coalesce(:from::timestamptz, '-infinity')
      AND p.purchased_at < coalesce(:to::timestamptz, 'infinity')
) AS customers;
ROLLBACK;
