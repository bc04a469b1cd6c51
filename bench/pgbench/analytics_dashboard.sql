-- GET /dashboard over the whole history: the server's four statements in its order (the
-- statistics' two, the first 10 loyal customers, the product sales).
-- In one read-only snapshot, as the server reads them (its rollback rides on the pool's check
-- of the returned connection; here it is a round trip of its own).
BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
SELECT b.id AS branch_id, coalesce(s.purchases, 0) AS purchase_count,
       coalesce(s.revenue, 0) AS revenue
FROM branches b LEFT JOIN icash_branch_sales(NULL, NULL, NULL) s ON s.branch_id = b.id
WHERE NULL::integer IS NULL OR b.id = NULL::integer
ORDER BY b.id;
SELECT coalesce(sum(customers), 0)::bigint FROM customer_histogram WHERE purchases > 0;
WITH page AS (
    SELECT id AS customer_id, purchases AS purchase_count, spent AS total_spent, first_purchase, last_purchase
    FROM customers
    WHERE purchases >= 3
      AND (NULL::bigint IS NULL
           OR purchases < NULL::bigint
           OR (purchases = NULL::bigint AND (spent < NULL::numeric OR (spent = NULL::numeric AND id > NULL::uuid))))
    ORDER BY purchases DESC, spent DESC, id
    LIMIT 10
)
SELECT (SELECT coalesce(sum(customers), 0)::bigint FROM customer_histogram WHERE purchases >= 3) AS loyal_count,
       page.*
FROM (SELECT) AS one LEFT JOIN page ON true
ORDER BY page.purchase_count DESC, page.total_spent DESC, page.customer_id;
SELECT u.product_id, pr.name, u.units AS units_sold
FROM icash_product_units(NULL, NULL, NULL) u JOIN products pr ON pr.id = u.product_id;
ROLLBACK;
