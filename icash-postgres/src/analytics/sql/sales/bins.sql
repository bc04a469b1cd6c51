SELECT s.branch_id, s.start_at,
       sum(s.purchases)::bigint AS purchases, sum(s.revenue) AS revenue, sum(s.units)::bigint AS units,
       sum(s.refunds)::bigint AS refunds, sum(s.refunded) AS refunded
FROM (
    SELECT p.branch_id, date_bin(make_interval(secs => $4), p.purchased_at, 'epoch') AS start_at,
           1 AS purchases, p.total AS revenue,
           (SELECT count(*) FROM purchase_lines l WHERE l.purchase_id = p.id) AS units,
           0 AS refunds, 0 AS refunded
    FROM purchases p
    WHERE p.branch_id = ANY ((SELECT icash_branch_ids($1))::integer[])
      AND p.purchased_at >= coalesce($2::timestamptz, '-infinity')
      AND p.purchased_at < coalesce($3::timestamptz, 'infinity')
      AND NOT EXISTS (SELECT 1 FROM purchase_voids v WHERE v.purchase_id = p.id)
    UNION ALL
    SELECT r.branch_id, date_bin(make_interval(secs => $4), r.refunded_at, 'epoch'), 0, 0, 0, 1, r.amount
    FROM refunds r
    WHERE r.branch_id = ANY ((SELECT icash_branch_ids($1))::integer[])
      AND r.refunded_at >= coalesce($2::timestamptz, '-infinity')
      AND r.refunded_at < coalesce($3::timestamptz, 'infinity')
) AS s
GROUP BY s.branch_id, s.start_at
