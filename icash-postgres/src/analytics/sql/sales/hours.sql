SELECT s.branch_id, s.start_at,
       sum(s.purchases)::bigint AS purchases, sum(s.revenue) AS revenue, sum(s.units)::bigint AS units,
       sum(s.refunds)::bigint AS refunds, sum(s.refunded) AS refunded
FROM (
    SELECT h.branch_id, h.hour AS start_at, h.purchases, h.revenue, 0::bigint AS units,
           0::bigint AS refunds, 0::numeric AS refunded
    FROM branch_hours h
    WHERE h.branch_id = ANY ((SELECT icash_branch_ids($1))::integer[])
      AND h.hour >= coalesce($2::timestamptz, '-infinity') AND h.hour < coalesce($3::timestamptz, 'infinity')
    UNION ALL
    SELECT u.branch_id, u.hour, 0, 0, u.units, 0, 0
    FROM product_hours u
    WHERE u.branch_id = ANY ((SELECT icash_branch_ids($1))::integer[])
      AND u.hour >= coalesce($2::timestamptz, '-infinity') AND u.hour < coalesce($3::timestamptz, 'infinity')
    UNION ALL
    SELECT q.branch_id, icash_hour(q.purchased_at), 1, q.cents * 0.01,
           (SELECT count(*) FROM purchase_lines l WHERE l.purchase_id = q.purchase_id), 0, 0
    FROM customer_set_pending q
    WHERE q.branch_id = ANY ((SELECT icash_branch_ids($1))::integer[])
      AND icash_hour(q.purchased_at) >= coalesce($2::timestamptz, '-infinity')
      AND icash_hour(q.purchased_at) < coalesce($3::timestamptz, 'infinity')
    UNION ALL
    SELECT r.branch_id, icash_hour(r.refunded_at), 0, 0, 0, 1, r.amount
    FROM refunds r
    WHERE r.branch_id = ANY ((SELECT icash_branch_ids($1))::integer[])
      AND r.refunded_at >= coalesce($2::timestamptz, '-infinity') AND r.refunded_at < coalesce($3::timestamptz, 'infinity')
) AS s
GROUP BY s.branch_id, s.start_at
-- An hour whose purchases were all voided keeps its rows, at zero.
HAVING sum(s.purchases) <> 0 OR sum(s.refunds) <> 0
