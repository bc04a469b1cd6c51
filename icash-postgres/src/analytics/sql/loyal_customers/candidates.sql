SELECT c.id AS customer_id, a.purchase_count, a.total_spent, a.first_purchase, a.last_purchase
FROM customers c
CROSS JOIN LATERAL (
    SELECT count(*)::bigint AS purchase_count, sum(p.total) AS total_spent,
           min(p.purchased_at) AS first_purchase, max(p.purchased_at) AS last_purchase
    FROM purchases p
    WHERE p.customer_id = c.id
      AND ($1::integer IS NULL OR p.branch_id = $1)
      AND p.purchased_at >= coalesce($2::timestamptz, '-infinity')
      AND p.purchased_at < coalesce($3::timestamptz, 'infinity')
      AND NOT EXISTS (SELECT 1 FROM purchase_voids v WHERE v.purchase_id = p.id)
) AS a
WHERE c.number = ANY ($4::integer[]) AND a.purchase_count > 0
