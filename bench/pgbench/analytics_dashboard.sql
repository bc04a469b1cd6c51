-- GET /dashboard over the whole history: the server's four statements in its order (the
-- statistics' two, the first 10 loyal customers, the product sales).
SELECT b.id AS branch_id, coalesce(sum(t.purchases), 0)::bigint AS purchase_count,
       coalesce(sum(t.revenue), 0) AS revenue
FROM branches b LEFT JOIN branch_totals t ON t.branch_id = b.id
WHERE NULL::integer IS NULL OR b.id = NULL::integer
GROUP BY b.id
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
SELECT t.product_id, pr.name, sum(t.units)::bigint AS units_sold
FROM product_totals t JOIN products pr ON pr.id = t.product_id
WHERE NULL::integer IS NULL OR t.branch_id = NULL::integer
GROUP BY t.product_id, pr.name;
