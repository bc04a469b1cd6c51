-- GET /analytics/top-products over the whole history: the server's statement (PRODUCT_UNITS
-- with no filter); the ranking is done in Rust.
SELECT u.product_id, pr.name, u.units AS units_sold
FROM icash_product_units(NULL, NULL, NULL) u JOIN products pr ON pr.id = u.product_id;
