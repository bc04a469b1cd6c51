SELECT s.customers, NULL::integer AS customer_number, false AS rebuilding
FROM customer_sets s
WHERE s.branch_id = coalesce($1::integer, 0) AND s.unit = 'hour'
  AND s.starts >= coalesce($8::timestamptz, '-infinity') AND s.starts < coalesce($9::timestamptz, 'infinity')
UNION ALL
SELECT s.customers, NULL::integer AS customer_number, false AS rebuilding
FROM customer_sets s
WHERE s.branch_id = coalesce($1::integer, 0) AND s.unit = 'hour'
  AND s.starts >= coalesce($10::timestamptz, '-infinity') AND s.starts < coalesce($11::timestamptz, 'infinity')
UNION ALL
SELECT s.customers, NULL::integer AS customer_number, false AS rebuilding
FROM customer_sets s
WHERE s.branch_id = coalesce($1::integer, 0) AND s.unit = 'day'
  AND s.starts >= coalesce($12::timestamptz, '-infinity') AND s.starts < coalesce($13::timestamptz, 'infinity')
UNION ALL
SELECT s.customers, NULL::integer AS customer_number, false AS rebuilding
FROM customer_sets s
WHERE s.branch_id = coalesce($1::integer, 0) AND s.unit = 'day'
  AND s.starts >= coalesce($14::timestamptz, '-infinity') AND s.starts < coalesce($15::timestamptz, 'infinity')
UNION ALL
SELECT s.customers, NULL::integer AS customer_number, false AS rebuilding
FROM customer_sets s
WHERE s.branch_id = coalesce($1::integer, 0) AND s.unit = 'month'
  AND s.starts >= coalesce($16::timestamptz, '-infinity') AND s.starts < coalesce($17::timestamptz, 'infinity')
UNION ALL
SELECT NULL, c.number, false
FROM (
    SELECT p.customer_id
    FROM (
        SELECT p.customer_id, 1 AS n
        FROM purchases p
        WHERE $1::integer IS NULL AND p.branch_id = ANY ((SELECT icash_branch_ids($1))::integer[])
          AND p.purchased_at >= coalesce($4::timestamptz, '-infinity')
          AND p.purchased_at < coalesce($5::timestamptz, 'infinity')
        UNION ALL
        SELECT p.customer_id, 1 AS n
        FROM purchases p
        WHERE $1::integer IS NULL AND p.branch_id = ANY ((SELECT icash_branch_ids($1))::integer[])
          AND p.purchased_at >= coalesce($6::timestamptz, '-infinity')
          AND p.purchased_at < coalesce($7::timestamptz, 'infinity')
        UNION ALL
        SELECT p.customer_id, -1 AS n
        FROM purchase_voids p
        WHERE $1::integer IS NULL AND p.branch_id = ANY ((SELECT icash_branch_ids($1))::integer[])
          AND p.purchased_at >= coalesce($4::timestamptz, '-infinity')
          AND p.purchased_at < coalesce($5::timestamptz, 'infinity')
        UNION ALL
        SELECT p.customer_id, -1 AS n
        FROM purchase_voids p
        WHERE $1::integer IS NULL AND p.branch_id = ANY ((SELECT icash_branch_ids($1))::integer[])
          AND p.purchased_at >= coalesce($6::timestamptz, '-infinity')
          AND p.purchased_at < coalesce($7::timestamptz, 'infinity')
    ) AS p
    GROUP BY p.customer_id
    HAVING sum(p.n) > 0
) AS e
JOIN customers c ON c.id = e.customer_id
UNION ALL
SELECT NULL, q.customer_number, false
FROM customer_set_pending q
WHERE $1::integer IS NULL
  AND q.purchased_at >= coalesce($2::timestamptz, '-infinity')
  AND q.purchased_at < coalesce($3::timestamptz, 'infinity')
  AND NOT EXISTS (SELECT 1 FROM purchase_voids v WHERE v.purchase_id = q.purchase_id)
UNION ALL
SELECT NULL, NULL, true FROM customer_sets_rebuild
