SELECT count(*)
FROM (
    SELECT p.customer_id
    FROM (
        SELECT p.customer_id, 1 AS n
        FROM purchases p
        WHERE p.branch_id = $1
          AND p.purchased_at >= coalesce($2::timestamptz, '-infinity')
          AND p.purchased_at < coalesce($3::timestamptz, 'infinity')
        UNION ALL
        SELECT p.customer_id, -1
        FROM purchase_voids p
        WHERE p.branch_id = $1
          AND p.purchased_at >= coalesce($2::timestamptz, '-infinity')
          AND p.purchased_at < coalesce($3::timestamptz, 'infinity')
    ) AS p
    GROUP BY p.customer_id
    HAVING sum(p.n) > 0
) AS customers
