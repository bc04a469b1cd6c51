SELECT (
           SELECT count(*)
           FROM (
               SELECT DISTINCT p.customer_id
               FROM purchases p
               WHERE $1::integer IS NULL AND p.branch_id = ANY ((SELECT icash_branch_ids($1))::integer[])
                 AND p.purchased_at >= coalesce($2::timestamptz, '-infinity')
                 AND p.purchased_at < coalesce($3::timestamptz, 'infinity')
           ) AS customers
       ) AS unique_customers,
       coalesce(array_agg(s.branch_id ORDER BY s.branch_id), '{}') AS branch_ids,
       coalesce(array_agg(s.purchase_count ORDER BY s.branch_id), '{}') AS branch_purchases,
       coalesce(array_agg(s.revenue ORDER BY s.branch_id), '{}') AS branch_revenues
FROM (
    SELECT b.id AS branch_id, coalesce(s.purchases, 0) AS purchase_count,
           coalesce(s.revenue, 0) AS revenue
    FROM branches b LEFT JOIN icash_branch_sales($1, $2, $3) s ON s.branch_id = b.id
    WHERE $1::integer IS NULL OR b.id = $1
) AS s
