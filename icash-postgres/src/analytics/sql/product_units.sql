SELECT u.product_id, pr.name, u.units AS units_sold
FROM icash_product_units($1, $2, $3) u JOIN products pr ON pr.id = u.product_id
