-- Prices over time, retired products, and the purchases of tills that were offline.

-- Each product's prices: a price is in force from `effective_from` until the next one's, and a
-- sale is priced at the latest whose `effective_from` is at or before its sale time. Prices set
-- with the catalog as a whole (the data files) are in force from '-infinity', the start of the
-- history. The key's index carries the price, so that pricing a sale is one index-only descent
-- per product.
CREATE TABLE product_prices (
    product_id integer NOT NULL,
    effective_from timestamptz NOT NULL,
    price numeric(10, 2) NOT NULL,
    CONSTRAINT product_prices_pkey PRIMARY KEY (product_id, effective_from) INCLUDE (price),
    CONSTRAINT product_prices_product_fkey FOREIGN KEY (product_id) REFERENCES products (id),
    CONSTRAINT product_prices_price_not_negative CHECK (price >= 0)
);

INSERT INTO product_prices (product_id, effective_from, price)
SELECT id, '-infinity', price FROM products;

-- `added_at`: when a product was added while the chain sells (NULL for one there from the
-- start); it was not for sale before. `retired_at`: from when it is no longer sold; its history
-- and the analytics of its sales stay.
--
-- `products.price` is no longer read to price a sale nor to list the catalog, which both read
-- `product_prices` at their instant; it keeps the price of the product's latest price point,
-- for whoever reads the table by hand.
ALTER TABLE products ADD COLUMN added_at timestamptz;
ALTER TABLE products ADD COLUMN retired_at timestamptz;

-- A till's own id for a purchase, unique per recording key (`recorded_by`; no key shares one
-- scope) and kept with the purchase for good: a resend at any later time finds it. Purchases
-- without one (loaded from files, or sent without) take no room in the index.
ALTER TABLE purchases ADD COLUMN client_id uuid;
CREATE UNIQUE INDEX purchases_client_id_key ON purchases ((coalesce(recorded_by, '')), client_id)
    WHERE client_id IS NOT NULL;
