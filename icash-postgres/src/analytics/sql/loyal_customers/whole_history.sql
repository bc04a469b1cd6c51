WITH page AS (
    SELECT id AS customer_id, purchases AS purchase_count, spent AS total_spent, first_purchase, last_purchase
    FROM customers
    WHERE purchases >= $4
      AND ($5::bigint IS NULL
           OR purchases < $5
           OR (purchases = $5 AND (spent < $6 OR (spent = $6 AND id > $7))))
    ORDER BY purchases DESC, spent DESC, id
    LIMIT $8
)
SELECT (SELECT coalesce(sum(customers), 0)::bigint FROM customer_histogram WHERE purchases >= $4) AS loyal_count, page.*
FROM (SELECT) AS one LEFT JOIN page ON true
ORDER BY page.purchase_count DESC, page.total_spent DESC, page.customer_id
