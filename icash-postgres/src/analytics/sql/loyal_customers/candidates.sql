SELECT c.number, c.id AS customer_id, f.purchased_at AS first_purchase, l.purchased_at AS last_purchase
FROM customers c
CROSS JOIN LATERAL (
    SELECT p.purchased_at
    FROM purchases p
    WHERE p.customer_id = c.id
      AND ($1::integer IS NULL OR p.branch_id = $1)
      AND p.purchased_at >= coalesce($2::timestamptz, '-infinity')
      AND p.purchased_at < coalesce($3::timestamptz, 'infinity')
      AND NOT EXISTS (SELECT 1 FROM purchase_voids v WHERE v.purchase_id = p.id)
    ORDER BY p.purchased_at
    LIMIT 1
) AS f
CROSS JOIN LATERAL (
    SELECT p.purchased_at
    FROM purchases p
    WHERE p.customer_id = c.id
      AND ($1::integer IS NULL OR p.branch_id = $1)
      AND p.purchased_at >= coalesce($2::timestamptz, '-infinity')
      AND p.purchased_at < coalesce($3::timestamptz, 'infinity')
      AND NOT EXISTS (SELECT 1 FROM purchase_voids v WHERE v.purchase_id = p.id)
    ORDER BY p.purchased_at DESC
    LIMIT 1
) AS l
WHERE c.number = ANY ($4::integer[])
