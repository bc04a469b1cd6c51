WITH activity AS (
    SELECT p.customer_id, sum(p.n)::bigint AS purchase_count, sum(p.n * p.total) AS total_spent,
           min(p.purchased_at) AS first_purchase, max(p.purchased_at) AS last_purchase
    FROM (
        SELECT p.customer_id, p.purchased_at, p.total, sum(p.n) AS n
        FROM (
            SELECT p.customer_id, p.purchased_at, p.total, 1 AS n
            FROM purchases p
            WHERE p.branch_id = $1
              AND p.purchased_at >= coalesce($2::timestamptz, '-infinity')
              AND p.purchased_at < coalesce($3::timestamptz, 'infinity')
            UNION ALL
            SELECT p.customer_id, p.purchased_at, p.total, -1
            FROM purchase_voids p
            WHERE p.branch_id = $1
              AND p.purchased_at >= coalesce($2::timestamptz, '-infinity')
              AND p.purchased_at < coalesce($3::timestamptz, 'infinity')
        ) AS p
        GROUP BY p.customer_id, p.purchased_at, p.total
        HAVING sum(p.n) > 0
    ) AS p
    GROUP BY p.customer_id
    HAVING sum(p.n) >= $4
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
