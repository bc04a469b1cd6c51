-- Aggregates maintained with every purchase, so that the analytics read a few hundred rows
-- instead of scanning millions of purchases.
--
-- Statement-level triggers with transition tables keep them: one purchase or a batch of ten
-- thousand, the same code runs once per statement, in the purchase's own transaction, so the
-- aggregates are exact at every commit (no watermark, no lag). Each aggregate is split into
-- 16 shards (by purchase id), so concurrent purchases rarely wait on the same row; rows are
-- upserted in key order, so two transactions never lock them in opposite orders.

-- Per customer: what the customer lists and the loyal customers read.
ALTER TABLE customers
    ADD COLUMN purchases bigint NOT NULL DEFAULT 0,
    ADD COLUMN spent numeric(16, 2) NOT NULL DEFAULT 0,
    ADD COLUMN first_purchase timestamptz,
    ADD COLUMN last_purchase timestamptz;
CREATE INDEX customers_loyal_order_idx ON customers (purchases DESC, spent DESC, id);
CREATE INDEX customers_top_order_idx ON customers (purchases DESC, id);

-- How many customers have made exactly `purchases` purchases: unique and loyal counts.
CREATE TABLE customer_histogram (
    purchases bigint NOT NULL,
    shard smallint NOT NULL,
    customers bigint NOT NULL,
    PRIMARY KEY (purchases, shard)
);

-- Purchases and revenue per branch, in all and per UTC day (for periods).
CREATE TABLE branch_totals (
    branch_id integer NOT NULL REFERENCES branches (id),
    shard smallint NOT NULL,
    purchases bigint NOT NULL,
    revenue numeric(16, 2) NOT NULL,
    PRIMARY KEY (branch_id, shard)
);
CREATE TABLE branch_days (
    branch_id integer NOT NULL REFERENCES branches (id),
    day date NOT NULL,
    shard smallint NOT NULL,
    purchases bigint NOT NULL,
    revenue numeric(16, 2) NOT NULL,
    PRIMARY KEY (branch_id, day, shard)
);
CREATE INDEX branch_days_day_idx ON branch_days (day) INCLUDE (branch_id, purchases, revenue);

-- Units sold per product and branch, in all and per UTC day.
CREATE TABLE product_totals (
    product_id integer NOT NULL REFERENCES products (id),
    branch_id integer NOT NULL REFERENCES branches (id),
    shard smallint NOT NULL,
    units bigint NOT NULL,
    PRIMARY KEY (product_id, branch_id, shard)
);
CREATE TABLE product_days (
    product_id integer NOT NULL REFERENCES products (id),
    branch_id integer NOT NULL REFERENCES branches (id),
    day date NOT NULL,
    shard smallint NOT NULL,
    units bigint NOT NULL,
    PRIMARY KEY (product_id, branch_id, day, shard)
);
CREATE INDEX product_days_day_idx ON product_days (day) INCLUDE (product_id, branch_id, units);

-- Filtered distinct-customer figures read these with index-only scans.
CREATE INDEX purchases_purchased_at_customer_idx ON purchases (purchased_at) INCLUDE (customer_id, total);
CREATE INDEX purchases_branch_customer_idx ON purchases (branch_id, purchased_at) INCLUDE (customer_id, total);
DROP INDEX purchases_purchased_at_idx;
DROP INDEX purchases_branch_purchased_at_idx;

-- The UTC day edges of a period: whole days come from the daily aggregates, the partial days
-- at either end from the purchases themselves.
CREATE FUNCTION icash_day_floor(at timestamptz) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN date_trunc('day', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
CREATE FUNCTION icash_day_ceil(at timestamptz) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN icash_day_floor(at) = at THEN at ELSE icash_day_floor(at) + interval '1 day' END;

CREATE FUNCTION icash_count_purchases() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Customers: counters, and their move in the histogram from `before` to `after`.
    WITH added AS (
        SELECT customer_id, count(*) AS purchases, sum(total) AS spent,
               min(purchased_at) AS first_purchase, max(purchased_at) AS last_purchase
        FROM new_purchases GROUP BY customer_id
    ),
    moved AS (
        UPDATE customers c
        SET purchases = c.purchases + a.purchases,
            spent = c.spent + a.spent,
            first_purchase = least(c.first_purchase, a.first_purchase),
            last_purchase = greatest(c.last_purchase, a.last_purchase)
        FROM added a
        WHERE c.id = a.customer_id
        RETURNING c.id, c.purchases - a.purchases AS before, c.purchases AS after
    ),
    changes AS (
        SELECT before AS purchases, (hashtext(id::text) & 15)::smallint AS shard, -1 AS delta FROM moved WHERE before > 0
        UNION ALL
        SELECT after, (hashtext(id::text) & 15)::smallint, 1 FROM moved
    )
    INSERT INTO customer_histogram (purchases, shard, customers)
    SELECT purchases, shard, sum(delta) FROM changes GROUP BY purchases, shard ORDER BY purchases, shard
    ON CONFLICT (purchases, shard) DO UPDATE SET customers = customer_histogram.customers + excluded.customers;

    INSERT INTO branch_totals (branch_id, shard, purchases, revenue)
    SELECT branch_id, (id & 15)::smallint, count(*), sum(total) FROM new_purchases
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (branch_id, shard) DO UPDATE
        SET purchases = branch_totals.purchases + excluded.purchases, revenue = branch_totals.revenue + excluded.revenue;

    INSERT INTO branch_days (branch_id, day, shard, purchases, revenue)
    SELECT branch_id, (purchased_at AT TIME ZONE 'UTC')::date, (id & 15)::smallint, count(*), sum(total) FROM new_purchases
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (branch_id, day, shard) DO UPDATE
        SET purchases = branch_days.purchases + excluded.purchases, revenue = branch_days.revenue + excluded.revenue;
    RETURN NULL;
END;
$$;

CREATE FUNCTION icash_count_units() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO product_totals (product_id, branch_id, shard, units)
    SELECT l.product_id, p.branch_id, (l.purchase_id & 15)::smallint, count(*)
    FROM new_lines l JOIN purchases p ON p.id = l.purchase_id
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (product_id, branch_id, shard) DO UPDATE SET units = product_totals.units + excluded.units;

    INSERT INTO product_days (product_id, branch_id, day, shard, units)
    SELECT l.product_id, p.branch_id, (p.purchased_at AT TIME ZONE 'UTC')::date, (l.purchase_id & 15)::smallint, count(*)
    FROM new_lines l JOIN purchases p ON p.id = l.purchase_id
    GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (product_id, branch_id, day, shard) DO UPDATE SET units = product_days.units + excluded.units;
    RETURN NULL;
END;
$$;

CREATE TRIGGER purchases_count AFTER INSERT ON purchases
    REFERENCING NEW TABLE AS new_purchases FOR EACH STATEMENT EXECUTE FUNCTION icash_count_purchases();
CREATE TRIGGER purchase_lines_count AFTER INSERT ON purchase_lines
    REFERENCING NEW TABLE AS new_lines FOR EACH STATEMENT EXECUTE FUNCTION icash_count_units();

-- Purchases are never updated or deleted by icash; refuse it, so that the aggregates cannot
-- silently drift from them.
CREATE FUNCTION icash_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'purchases are immutable: % on % is refused', TG_OP, TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER purchases_immutable BEFORE UPDATE OR DELETE OR TRUNCATE ON purchases
    FOR EACH STATEMENT EXECUTE FUNCTION icash_refuse_change();
CREATE TRIGGER purchase_lines_immutable BEFORE UPDATE OR DELETE OR TRUNCATE ON purchase_lines
    FOR EACH STATEMENT EXECUTE FUNCTION icash_refuse_change();

-- Purchases recorded before this migration.
WITH totals AS (
    SELECT customer_id, count(*) AS purchases, sum(total) AS spent,
           min(purchased_at) AS first_purchase, max(purchased_at) AS last_purchase
    FROM purchases GROUP BY customer_id
)
UPDATE customers c
SET purchases = t.purchases, spent = t.spent, first_purchase = t.first_purchase, last_purchase = t.last_purchase
FROM totals t WHERE c.id = t.customer_id;
INSERT INTO customer_histogram (purchases, shard, customers)
SELECT purchases, (hashtext(id::text) & 15)::smallint, count(*) FROM customers WHERE purchases > 0 GROUP BY 1, 2;
INSERT INTO branch_totals (branch_id, shard, purchases, revenue)
SELECT branch_id, (id & 15)::smallint, count(*), sum(total) FROM purchases GROUP BY 1, 2;
INSERT INTO branch_days (branch_id, day, shard, purchases, revenue)
SELECT branch_id, (purchased_at AT TIME ZONE 'UTC')::date, (id & 15)::smallint, count(*), sum(total) FROM purchases GROUP BY 1, 2, 3;
INSERT INTO product_totals (product_id, branch_id, shard, units)
SELECT l.product_id, p.branch_id, (l.purchase_id & 15)::smallint, count(*)
FROM purchase_lines l JOIN purchases p ON p.id = l.purchase_id GROUP BY 1, 2, 3;
INSERT INTO product_days (product_id, branch_id, day, shard, units)
SELECT l.product_id, p.branch_id, (p.purchased_at AT TIME ZONE 'UTC')::date, (l.purchase_id & 15)::smallint, count(*)
FROM purchase_lines l JOIN purchases p ON p.id = l.purchase_id GROUP BY 1, 2, 3, 4;
