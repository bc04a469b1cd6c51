SELECT statistics.*, loyal.*, units.*
FROM (
    SELECT (SELECT coalesce(sum(customers), 0)::bigint FROM branch_customers WHERE branch_id = $1) AS unique_customers,
           coalesce(array_agg(s.branch_id ORDER BY s.branch_id), '{}') AS branch_ids,
           coalesce(array_agg(s.purchase_count ORDER BY s.branch_id), '{}') AS branch_purchases,
           coalesce(array_agg(s.revenue ORDER BY s.branch_id), '{}') AS branch_revenues
    FROM (
        SELECT b.id AS branch_id, coalesce(s.purchases, 0) AS purchase_count,
               coalesce(s.revenue, 0) AS revenue
        FROM branches b LEFT JOIN icash_branch_sales($1, $2, $3) s ON s.branch_id = b.id
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
            SELECT p.customer_id, count(*) AS purchase_count, sum(p.total) AS total_spent,
                   min(p.purchased_at) AS first_purchase, max(p.purchased_at) AS last_purchase
            FROM purchases p
            WHERE p.branch_id = $1
              AND p.purchased_at >= coalesce($2::timestamptz, '-infinity')
              AND p.purchased_at < coalesce($3::timestamptz, 'infinity')
            GROUP BY p.customer_id
            HAVING count(*) >= $4
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
           coalesce(array_agg(u.units_sold), '{}') AS product_units
    FROM (
        SELECT u.product_id, pr.name, u.units AS units_sold
        FROM icash_product_units($1, $2, $3) u JOIN products pr ON pr.id = u.product_id
    ) AS u
) AS units
