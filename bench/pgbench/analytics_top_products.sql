-- GET /analytics/top-products over the whole history: the server's statement (PRODUCTS_IN_ALL
-- with no branch); the ranking is done in Rust.
SELECT t.product_id, pr.name, sum(t.units)::bigint AS units_sold
FROM product_totals t JOIN products pr ON pr.id = t.product_id
WHERE NULL::integer IS NULL OR t.branch_id = NULL::integer
GROUP BY t.product_id, pr.name;
