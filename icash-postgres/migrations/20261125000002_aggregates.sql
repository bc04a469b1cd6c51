-- Aggregates maintained with every purchase, so that the analytics read a few hundred rows
-- instead of scanning millions of purchases.
--
-- Statement-level triggers with transition tables keep them: one purchase or a batch of ten
-- thousand, the same code runs once per statement, in the purchase's own transaction, so the
-- aggregates are exact at every commit (no watermark, no lag). Each aggregate is split into
-- 16 shards (by purchase id, or by customer), so concurrent purchases rarely wait on the same
-- row; rows are upserted in key order, so two transactions never lock them in opposite orders.
-- Readers always add the shards up; a bulk load writes everything into shard 0.
--
-- Sales are kept per branch (and per product and branch) in all, and per UTC month, day and
-- hour, so that a period reads whole months, days and hours and only the purchases of its
-- partial edges (see the period_functions migration). The customers' own counters are columns
-- of the customers table (see the schema migration).
--
-- The aggregate tables carry no foreign keys: every row is derived from purchases that have
-- them, and checking them again would cost every purchase and every bulk load.

-- Where a purchase (or line) falls: its shard, and the UTC hour, day and month it belongs to.
-- The triggers and the bulk load's rebuild both use these, so a bucket is defined once.
CREATE FUNCTION icash_shard(purchase_id bigint) RETURNS smallint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (purchase_id & 15)::smallint;
CREATE FUNCTION icash_day(at timestamptz) RETURNS date
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (at AT TIME ZONE 'UTC')::date;
CREATE FUNCTION icash_hour(at timestamptz) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN date_trunc('hour', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
-- The month a UTC day belongs to, as its first day.
CREATE FUNCTION icash_month(day date) RETURNS date
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN date_trunc('month', day::timestamp)::date;

-- How many customers have made exactly `purchases` purchases: unique and loyal counts over the
-- whole history.
CREATE TABLE customer_histogram (
    purchases bigint NOT NULL,
    shard smallint NOT NULL,
    customers bigint NOT NULL,
    PRIMARY KEY (purchases, shard)
);

-- Which customers bought at each branch, and how many there are: a branch's distinct customers
-- over its whole history, without counting them from its purchases.
CREATE TABLE customer_branches (
    branch_id integer NOT NULL,
    customer_id uuid NOT NULL,
    purchases bigint NOT NULL,
    PRIMARY KEY (branch_id, customer_id)
);
CREATE TABLE branch_customers (
    branch_id integer NOT NULL,
    shard smallint NOT NULL,
    customers bigint NOT NULL,
    PRIMARY KEY (branch_id, shard)
);

-- Purchases and revenue per branch: in all, and per UTC month, day and hour. Each period level
-- has an index on its time that carries the rest of the row, so that a period's piece of it is
-- one index-only range scan.
CREATE TABLE branch_totals (
    branch_id integer NOT NULL,
    shard smallint NOT NULL,
    purchases bigint NOT NULL,
    revenue numeric(16, 2) NOT NULL,
    PRIMARY KEY (branch_id, shard)
);
CREATE TABLE branch_months (
    branch_id integer NOT NULL,
    -- The month's first day.
    month date NOT NULL,
    shard smallint NOT NULL,
    purchases bigint NOT NULL,
    revenue numeric(16, 2) NOT NULL,
    PRIMARY KEY (branch_id, month, shard)
);
CREATE INDEX branch_months_month_idx ON branch_months (month) INCLUDE (branch_id, purchases, revenue);
CREATE TABLE branch_days (
    branch_id integer NOT NULL,
    day date NOT NULL,
    shard smallint NOT NULL,
    purchases bigint NOT NULL,
    revenue numeric(16, 2) NOT NULL,
    PRIMARY KEY (branch_id, day, shard)
);
CREATE INDEX branch_days_day_idx ON branch_days (day) INCLUDE (branch_id, purchases, revenue);
CREATE TABLE branch_hours (
    branch_id integer NOT NULL,
    -- The hour's first instant.
    hour timestamptz NOT NULL,
    shard smallint NOT NULL,
    purchases bigint NOT NULL,
    revenue numeric(16, 2) NOT NULL,
    PRIMARY KEY (branch_id, hour, shard)
);
CREATE INDEX branch_hours_hour_idx ON branch_hours (hour) INCLUDE (branch_id, purchases, revenue);

-- Units sold per product and branch: in all, and per UTC month, day and hour, as the branches'.
CREATE TABLE product_totals (
    product_id integer NOT NULL,
    branch_id integer NOT NULL,
    shard smallint NOT NULL,
    units bigint NOT NULL,
    PRIMARY KEY (product_id, branch_id, shard)
);
CREATE TABLE product_months (
    product_id integer NOT NULL,
    branch_id integer NOT NULL,
    month date NOT NULL,
    shard smallint NOT NULL,
    units bigint NOT NULL,
    PRIMARY KEY (product_id, branch_id, month, shard)
);
CREATE INDEX product_months_month_idx ON product_months (month) INCLUDE (product_id, branch_id, units);
CREATE TABLE product_days (
    product_id integer NOT NULL,
    branch_id integer NOT NULL,
    day date NOT NULL,
    shard smallint NOT NULL,
    units bigint NOT NULL,
    PRIMARY KEY (product_id, branch_id, day, shard)
);
CREATE INDEX product_days_day_idx ON product_days (day) INCLUDE (product_id, branch_id, units);
CREATE TABLE product_hours (
    product_id integer NOT NULL,
    branch_id integer NOT NULL,
    hour timestamptz NOT NULL,
    shard smallint NOT NULL,
    units bigint NOT NULL,
    PRIMARY KEY (product_id, branch_id, hour, shard)
);
CREATE INDEX product_hours_hour_idx ON product_hours (hour) INCLUDE (product_id, branch_id, units);

-- The new purchases: the customers' counters and histogram, which customers are new at each
-- branch, and the branches' totals, days and hours.
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

    -- A pair whose count after the upsert is what this statement added is new: its customer
    -- is new at the branch.
    WITH pairs AS (
        SELECT branch_id, customer_id, count(*) AS purchases FROM new_purchases GROUP BY 1, 2
    ),
    counted AS (
        INSERT INTO customer_branches (branch_id, customer_id, purchases)
        SELECT branch_id, customer_id, purchases FROM pairs ORDER BY 1, 2
        ON CONFLICT (branch_id, customer_id) DO UPDATE
            SET purchases = customer_branches.purchases + excluded.purchases
        RETURNING branch_id, customer_id, purchases
    )
    INSERT INTO branch_customers (branch_id, shard, customers)
    SELECT c.branch_id, (hashtext(c.customer_id::text) & 15)::smallint, count(*)
    FROM counted c JOIN pairs p ON p.branch_id = c.branch_id AND p.customer_id = c.customer_id
    WHERE c.purchases = p.purchases
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (branch_id, shard) DO UPDATE SET customers = branch_customers.customers + excluded.customers;

    INSERT INTO branch_totals (branch_id, shard, purchases, revenue)
    SELECT branch_id, icash_shard(id), count(*), sum(total) FROM new_purchases
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (branch_id, shard) DO UPDATE
        SET purchases = branch_totals.purchases + excluded.purchases, revenue = branch_totals.revenue + excluded.revenue;

    INSERT INTO branch_days (branch_id, day, shard, purchases, revenue)
    SELECT branch_id, icash_day(purchased_at), icash_shard(id), count(*), sum(total) FROM new_purchases
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (branch_id, day, shard) DO UPDATE
        SET purchases = branch_days.purchases + excluded.purchases, revenue = branch_days.revenue + excluded.revenue;

    INSERT INTO branch_hours (branch_id, hour, shard, purchases, revenue)
    SELECT branch_id, icash_hour(purchased_at), icash_shard(id), count(*), sum(total) FROM new_purchases
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (branch_id, hour, shard) DO UPDATE
        SET purchases = branch_hours.purchases + excluded.purchases, revenue = branch_hours.revenue + excluded.revenue;
    RETURN NULL;
END;
$$;

-- The new purchases' months, in a trigger of its own beside purchases_count (no join needed).
CREATE FUNCTION icash_count_purchase_months() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO branch_months (branch_id, month, shard, purchases, revenue)
    SELECT branch_id, icash_month(icash_day(purchased_at)), icash_shard(id), count(*), sum(total)
    FROM new_purchases
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (branch_id, month, shard) DO UPDATE
        SET purchases = branch_months.purchases + excluded.purchases, revenue = branch_months.revenue + excluded.revenue;
    RETURN NULL;
END;
$$;

-- The new lines: one join of the lines to their purchases, summed per hour, then per day, per
-- month and in all from those sums, rather than one join per aggregate.
CREATE FUNCTION icash_count_units() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH hours AS MATERIALIZED (
        SELECT l.product_id, p.branch_id, icash_hour(p.purchased_at) AS hour,
               icash_shard(l.purchase_id) AS shard, count(*) AS units
        FROM new_lines l JOIN purchases p ON p.id = l.purchase_id
        GROUP BY 1, 2, 3, 4
    ),
    totals AS (
        INSERT INTO product_totals (product_id, branch_id, shard, units)
        SELECT product_id, branch_id, shard, sum(units)::bigint FROM hours
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (product_id, branch_id, shard) DO UPDATE SET units = product_totals.units + excluded.units
    ),
    months AS (
        INSERT INTO product_months (product_id, branch_id, month, shard, units)
        SELECT product_id, branch_id, icash_month(icash_day(hour)), shard, sum(units)::bigint FROM hours
        GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (product_id, branch_id, month, shard) DO UPDATE SET units = product_months.units + excluded.units
    ),
    days AS (
        INSERT INTO product_days (product_id, branch_id, day, shard, units)
        SELECT product_id, branch_id, icash_day(hour), shard, sum(units)::bigint FROM hours
        GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (product_id, branch_id, day, shard) DO UPDATE SET units = product_days.units + excluded.units
    )
    INSERT INTO product_hours (product_id, branch_id, hour, shard, units)
    SELECT product_id, branch_id, hour, shard, units FROM hours
    ORDER BY 1, 2, 3, 4
    ON CONFLICT (product_id, branch_id, hour, shard) DO UPDATE SET units = product_hours.units + excluded.units;
    RETURN NULL;
END;
$$;

CREATE TRIGGER purchases_count AFTER INSERT ON purchases
    REFERENCING NEW TABLE AS new_purchases FOR EACH STATEMENT EXECUTE FUNCTION icash_count_purchases();
CREATE TRIGGER purchases_count_months AFTER INSERT ON purchases
    REFERENCING NEW TABLE AS new_purchases FOR EACH STATEMENT EXECUTE FUNCTION icash_count_purchase_months();
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
