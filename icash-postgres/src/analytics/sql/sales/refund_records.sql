SELECT r.refunded_at, r.amount
FROM refunds r
WHERE r.branch_id = ANY ((SELECT icash_branch_ids($1))::integer[])
  AND r.refunded_at >= coalesce($2::timestamptz, '-infinity')
  AND r.refunded_at < coalesce($3::timestamptz, 'infinity')
ORDER BY r.refunded_at, r.id
