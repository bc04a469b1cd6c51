SELECT p.id, p.purchased_at, p.total, p.recorded_by,
       (SELECT count(*) FROM purchase_lines l WHERE l.purchase_id = p.id) AS units,
       EXISTS (SELECT 1 FROM purchase_voids v WHERE v.purchase_id = p.id) AS voided
FROM purchases p
WHERE p.branch_id = ANY ((SELECT icash_branch_ids($1))::integer[])
  AND p.purchased_at >= coalesce($2::timestamptz, '-infinity')
  AND p.purchased_at < coalesce($3::timestamptz, 'infinity')
ORDER BY p.purchased_at, p.id
