WITH activity AS (
    SELECT p.customer_id, count(*) AS purchase_count, sum(p.total) AS total_spent,
           min(p.purchased_at) AS first_purchase, max(p.purchased_at) AS last_purchase
    FROM purchases p
    WHERE p.branch_id = $1
      AND p.purchased_at >= coalesce($2::timestamptz, '-infinity')
      AND p.purchased_at < coalesce($3::timestamptz, 'infinity')
    GROUP BY p.customer_id
    HAVING count(*) >= $4
),
page AS (
    SELECT * FROM activity
    WHERE $5::bigint IS NULL
       OR purchase_count < $5
       OR (purchase_count = $5 AND (total_spent < $6 OR (total_spent = $6 AND customer_id > $7)))
    ORDER BY purchase_count DESC, total_spent DESC, customer_id
    LIMIT $8
)
SELECT (SELECT count(*) FROM activity) AS loyal_count, page.*
FROM (SELECT) AS one LEFT JOIN page ON true
ORDER BY page.purchase_count DESC, page.total_spent DESC, page.customer_id
