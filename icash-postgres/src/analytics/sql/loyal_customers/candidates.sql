SELECT c.number, c.id AS customer_id,
       CASE WHEN v.voided THEN fe.purchased_at ELSE f.purchased_at END AS first_purchase,
       CASE WHEN v.voided THEN le.purchased_at ELSE l.purchased_at END AS last_purchase
FROM customers c
CROSS JOIN LATERAL (
    SELECT EXISTS (
        SELECT 1 FROM purchase_voids v
        WHERE v.customer_id = c.id
          AND ($1::integer IS NULL OR v.branch_id = $1)
          AND v.purchased_at >= coalesce($2::timestamptz, '-infinity')
          AND v.purchased_at < coalesce($3::timestamptz, 'infinity')
    ) AS voided
) AS v
CROSS JOIN LATERAL (
    SELECT p.purchased_at FROM purchases p
    WHERE p.customer_id = c.id
      AND ($1::integer IS NULL OR p.branch_id = $1)
      AND p.purchased_at >= coalesce($2::timestamptz, '-infinity')
      AND p.purchased_at < coalesce($3::timestamptz, 'infinity')
    ORDER BY p.purchased_at
    LIMIT 1
) AS f
CROSS JOIN LATERAL (
    SELECT p.purchased_at FROM purchases p
    WHERE p.customer_id = c.id
      AND ($1::integer IS NULL OR p.branch_id = $1)
      AND p.purchased_at >= coalesce($2::timestamptz, '-infinity')
      AND p.purchased_at < coalesce($3::timestamptz, 'infinity')
    ORDER BY p.purchased_at DESC
    LIMIT 1
) AS l
LEFT JOIN LATERAL (
    SELECT p.purchased_at FROM purchases p
    WHERE v.voided
      AND p.customer_id = c.id
      AND ($1::integer IS NULL OR p.branch_id = $1)
      AND p.purchased_at >= coalesce($2::timestamptz, '-infinity')
      AND p.purchased_at < coalesce($3::timestamptz, 'infinity')
      AND NOT EXISTS (SELECT 1 FROM purchase_voids x WHERE x.purchase_id = p.id)
    ORDER BY p.purchased_at
    LIMIT 1
) AS fe ON true
LEFT JOIN LATERAL (
    SELECT p.purchased_at FROM purchases p
    WHERE v.voided
      AND p.customer_id = c.id
      AND ($1::integer IS NULL OR p.branch_id = $1)
      AND p.purchased_at >= coalesce($2::timestamptz, '-infinity')
      AND p.purchased_at < coalesce($3::timestamptz, 'infinity')
      AND NOT EXISTS (SELECT 1 FROM purchase_voids x WHERE x.purchase_id = p.id)
    ORDER BY p.purchased_at DESC
    LIMIT 1
) AS le ON true
WHERE c.number = ANY ($4::integer[])
