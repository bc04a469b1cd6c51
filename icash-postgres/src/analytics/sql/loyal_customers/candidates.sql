SELECT c.id AS customer_id,
       CASE WHEN v.voids > 0 THEN e.purchase_count ELSE a.purchase_count END AS purchase_count,
       CASE WHEN v.voids > 0 THEN e.total_spent ELSE a.total_spent END AS total_spent,
       CASE WHEN v.voids > 0 THEN e.first_purchase ELSE a.first_purchase END AS first_purchase,
       CASE WHEN v.voids > 0 THEN e.last_purchase ELSE a.last_purchase END AS last_purchase
FROM customers c
CROSS JOIN LATERAL (
    SELECT count(*)::bigint AS purchase_count, sum(p.total) AS total_spent,
           min(p.purchased_at) AS first_purchase, max(p.purchased_at) AS last_purchase
    FROM purchases p
    WHERE p.customer_id = c.id
      AND ($1::integer IS NULL OR p.branch_id = $1)
      AND p.purchased_at >= coalesce($2::timestamptz, '-infinity')
      AND p.purchased_at < coalesce($3::timestamptz, 'infinity')
) AS a
CROSS JOIN LATERAL (
    SELECT count(*) AS voids
    FROM purchase_voids v
    WHERE v.customer_id = c.id
      AND ($1::integer IS NULL OR v.branch_id = $1)
      AND v.purchased_at >= coalesce($2::timestamptz, '-infinity')
      AND v.purchased_at < coalesce($3::timestamptz, 'infinity')
) AS v
LEFT JOIN LATERAL (
    SELECT count(*)::bigint AS purchase_count, sum(p.total) AS total_spent,
           min(p.purchased_at) AS first_purchase, max(p.purchased_at) AS last_purchase
    FROM purchases p
    WHERE v.voids > 0
      AND p.customer_id = c.id
      AND ($1::integer IS NULL OR p.branch_id = $1)
      AND p.purchased_at >= coalesce($2::timestamptz, '-infinity')
      AND p.purchased_at < coalesce($3::timestamptz, 'infinity')
      AND NOT EXISTS (SELECT 1 FROM purchase_voids x WHERE x.purchase_id = p.id)
) AS e ON true
WHERE c.number = ANY ($4::integer[]) AND a.purchase_count > v.voids
