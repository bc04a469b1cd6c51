SELECT statistics.*, loyal.*, units.*
FROM (
    SELECT $9::bigint AS unique_customers,
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
) AS statistics, (
    SELECT coalesce(max(l.loyal_count), 0) AS loyal_count,
           coalesce(array_agg(l.customer_id ORDER BY l.purchase_count DESC, l.total_spent DESC, l.customer_id)
                    FILTER (WHERE l.customer_id IS NOT NULL), '{}') AS loyal_ids,
           coalesce(array_agg(l.purchase_count ORDER BY l.purchase_count DESC, l.total_spent DESC, l.customer_id)
                    FILTER (WHERE l.customer_id IS NOT NULL), '{}') AS loyal_purchases,
           coalesce(array_agg(l.total_spent ORDER BY l.purchase_count DESC, l.total_spent DESC, l.customer_id)
                    FILTER (WHERE l.customer_id IS NOT NULL), '{}') AS loyal_spent,
           coalesce(array_agg(l.first_purchase ORDER BY l.purchase_count DESC, l.total_spent DESC, l.customer_id)
                    FILTER (WHERE l.customer_id IS NOT NULL), '{}') AS loyal_first,
           coalesce(array_agg(l.last_purchase ORDER BY l.purchase_count DESC, l.total_spent DESC, l.customer_id)
                    FILTER (WHERE l.customer_id IS NOT NULL), '{}') AS loyal_last
    FROM (
        WITH activity AS (
            SELECT p.customer_id, sum(p.n)::bigint AS purchase_count, sum(p.n * p.total) AS total_spent,
                   min(p.purchased_at) AS first_purchase, max(p.purchased_at) AS last_purchase
            FROM (
                SELECT p.customer_id, p.purchased_at, p.total, sum(p.n) AS n
                FROM (
                    SELECT p.customer_id, p.purchased_at, p.total, 1 AS n
                    FROM purchases p
                    WHERE $1::integer IS NULL AND p.branch_id = ANY ((SELECT icash_branch_ids($1))::integer[])
                      AND p.purchased_at >= coalesce($2::timestamptz, '-infinity')
                      AND p.purchased_at < coalesce($3::timestamptz, 'infinity')
                    UNION ALL
                    SELECT p.customer_id, p.purchased_at, p.total, -1
                    FROM purchase_voids p
                    WHERE $1::integer IS NULL AND p.branch_id = ANY ((SELECT icash_branch_ids($1))::integer[])
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
    ) AS l
) AS loyal, (
    SELECT coalesce(array_agg(u.product_id), '{}') AS product_ids,
           coalesce(array_agg(u.name), '{}') AS product_names,
           coalesce(array_agg(u.units_sold), '{}') AS product_units,
           coalesce(array_agg(u.units_returned), '{}') AS product_returns
    FROM (
        SELECT pr.id AS product_id, pr.name, coalesce(u.units, 0) AS units_sold,
               coalesce(r.units, 0) AS units_returned
        FROM icash_product_units($1, $2, $3) u
             FULL JOIN icash_product_returns($1, $2, $3) r ON r.product_id = u.product_id
             JOIN products pr ON pr.id = coalesce(u.product_id, r.product_id)
    ) AS u
) AS units
