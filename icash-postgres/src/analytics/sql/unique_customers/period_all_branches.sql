SELECT count(*)
FROM (
    SELECT DISTINCT p.customer_id
    FROM purchases p
    WHERE $1::integer IS NULL AND p.branch_id = ANY ((SELECT icash_branch_ids($1))::integer[])
      AND p.purchased_at >= coalesce($2::timestamptz, '-infinity')
      AND p.purchased_at < coalesce($3::timestamptz, 'infinity')
) AS customers
