SELECT id AS customer_id, purchases AS purchase_count
FROM customers
WHERE purchases > 0
  AND ($1::bigint IS NULL OR purchases < $1 OR (purchases = $1 AND id > $2))
ORDER BY purchases DESC, id
LIMIT $3
