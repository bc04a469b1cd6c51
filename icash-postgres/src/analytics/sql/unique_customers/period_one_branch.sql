SELECT count(*)
FROM (
    SELECT DISTINCT p.customer_id
    FROM purchases p
    WHERE p.branch_id = $1
      AND p.purchased_at >= coalesce($2::timestamptz, '-infinity')
      AND p.purchased_at < coalesce($3::timestamptz, 'infinity')
) AS customers
