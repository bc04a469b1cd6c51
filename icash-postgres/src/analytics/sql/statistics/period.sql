SELECT t.*, v.*
FROM (
    SELECT NULL::bigint AS unique_customers,
           coalesce(array_agg(s.branch_id ORDER BY s.branch_id), '{}') AS branch_ids,
           coalesce(array_agg(s.purchase_count ORDER BY s.branch_id), '{}') AS branch_purchases,
           coalesce(array_agg(s.revenue ORDER BY s.branch_id), '{}') AS branch_revenues,
           coalesce(array_agg(s.refunds ORDER BY s.branch_id), '{}') AS branch_refunds,
           coalesce(array_agg(s.refund_amount ORDER BY s.branch_id), '{}') AS branch_refund_amounts
    FROM (
        SELECT b.id AS branch_id, coalesce(s.purchases, 0) AS purchase_count,
               coalesce(s.revenue, 0) AS revenue,
               coalesce(r.refunds, 0) AS refunds, coalesce(r.amount, 0) AS refund_amount
        FROM branches b LEFT JOIN icash_branch_sales($1, $2, $3) s ON s.branch_id = b.id
             LEFT JOIN icash_branch_refunds($1, $2, $3) r ON r.branch_id = b.id
        WHERE $1::integer IS NULL OR b.id = $1
    ) AS s
) AS t
CROSS JOIN icash_customer_set_versions($1, $2, $3, $4) AS v
