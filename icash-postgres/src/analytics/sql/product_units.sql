SELECT pr.id AS product_id, pr.name, coalesce(u.units, 0) AS units_sold,
       coalesce(r.units, 0) AS units_returned
FROM icash_product_units($1, $2, $3) u
     FULL JOIN icash_product_returns($1, $2, $3) r ON r.product_id = u.product_id
     JOIN products pr ON pr.id = coalesce(u.product_id, r.product_id)
