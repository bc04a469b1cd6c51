-- Hourly aggregates beside the daily ones, so that a period reads whole days, then whole hours,
-- and scans purchases only for its partial first and last hours (at most two hours of them,
-- whatever the period's length). The period sums are SQL functions, so that the server and the
-- pgbench ceilings (bench/pgbench) run the very same statements.

-- Where a purchase (or line) falls: its shard, and the UTC day and hour it belongs to. The
-- triggers and the full rebuild below both use these, so a bucket is defined once.
CREATE FUNCTION icash_shard(purchase_id bigint) RETURNS smallint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (purchase_id & 15)::smallint;
CREATE FUNCTION icash_day(at timestamptz) RETURNS date
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (at AT TIME ZONE 'UTC')::date;
CREATE FUNCTION icash_hour(at timestamptz) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN date_trunc('hour', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';

-- The aggregate tables carry no foreign keys: every row is derived from purchases that have
-- them, and checking them again cost every purchase and every rebuild (2 of 5 seconds of a
-- rebuild at 1M purchases).
ALTER TABLE branch_totals DROP CONSTRAINT branch_totals_branch_id_fkey;
ALTER TABLE branch_days DROP CONSTRAINT branch_days_branch_id_fkey;
ALTER TABLE product_totals DROP CONSTRAINT product_totals_product_id_fkey;
ALTER TABLE product_totals DROP CONSTRAINT product_totals_branch_id_fkey;
ALTER TABLE product_days DROP CONSTRAINT product_days_product_id_fkey;
ALTER TABLE product_days DROP CONSTRAINT product_days_branch_id_fkey;

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

CREATE TABLE product_hours (
    product_id integer NOT NULL,
    branch_id integer NOT NULL,
    hour timestamptz NOT NULL,
    shard smallint NOT NULL,
    units bigint NOT NULL,
    PRIMARY KEY (product_id, branch_id, hour, shard)
);
CREATE INDEX product_hours_hour_idx ON product_hours (hour) INCLUDE (product_id, branch_id, units);

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

-- Nothing reads lines by product any more (the aggregates count units), and every purchase
-- and every bulk load paid for this index.
DROP INDEX purchase_lines_product_idx;

-- Splits the period [from_at, to_at) (either end may be NULL: unbounded) into what each level
-- covers: whole UTC days [day_lo, day_hi), whole hours [hour_lo, day_lo) and [day_hi, hour_hi),
-- and purchases [lo, hour_lo) and [hour_hi, hi). Empty levels collapse to empty ranges, so
-- the three levels always cover the period exactly once.
CREATE FUNCTION icash_period(from_at timestamptz, to_at timestamptz,
    OUT lo timestamptz, OUT hi timestamptz,
    OUT hour_lo timestamptz, OUT hour_hi timestamptz,
    OUT day_lo timestamptz, OUT day_hi timestamptz)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    lo := coalesce(from_at, '-infinity');
    hi := greatest(lo, coalesce(to_at, 'infinity'));
    hour_lo := CASE WHEN icash_hour(lo) = lo THEN lo ELSE icash_hour(lo) + interval '1 hour' END;
    hour_hi := icash_hour(hi);
    IF hour_lo >= hour_hi THEN
        hour_lo := hi;
        hour_hi := hi;
    END IF;
    day_lo := CASE WHEN icash_day_floor(hour_lo) = hour_lo THEN hour_lo ELSE icash_day_floor(hour_lo) + interval '1 day' END;
    day_hi := icash_day_floor(hour_hi);
    IF day_lo >= day_hi THEN
        day_lo := hour_hi;
        day_hi := hour_hi;
    END IF;
END;
$$;

-- Purchases and revenue per branch in [lo, hi), for one branch or all (NULL): the whole
-- history from the totals, a period from days, hours and at most two partial hours.
CREATE FUNCTION icash_branch_sales(branch integer, lo timestamptz, hi timestamptz)
RETURNS TABLE (branch_id integer, purchases bigint, revenue numeric)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    p record := icash_period(lo, hi);
BEGIN
    IF lo IS NULL AND hi IS NULL THEN
        RETURN QUERY
        SELECT t.branch_id, sum(t.purchases)::bigint, sum(t.revenue)
        FROM branch_totals t WHERE branch IS NULL OR t.branch_id = branch
        GROUP BY t.branch_id;
        RETURN;
    END IF;
    RETURN QUERY
    SELECT s.branch_id, sum(s.purchases)::bigint, sum(s.revenue)
    FROM (
        SELECT d.branch_id, d.purchases, d.revenue FROM branch_days d
        WHERE d.day >= icash_day(p.day_lo) AND d.day < icash_day(p.day_hi)
        UNION ALL
        SELECT h.branch_id, h.purchases, h.revenue FROM branch_hours h
        WHERE (h.hour >= p.hour_lo AND h.hour < p.day_lo) OR (h.hour >= p.day_hi AND h.hour < p.hour_hi)
        UNION ALL
        SELECT u.branch_id, 1, u.total FROM purchases u
        WHERE (u.purchased_at >= p.lo AND u.purchased_at < p.hour_lo)
           OR (u.purchased_at >= p.hour_hi AND u.purchased_at < p.hi)
    ) AS s
    WHERE branch IS NULL OR s.branch_id = branch
    GROUP BY s.branch_id;
END;
$$;

-- Units sold per product in [lo, hi), at one branch or all (NULL), as icash_branch_sales.
CREATE FUNCTION icash_product_units(branch integer, lo timestamptz, hi timestamptz)
RETURNS TABLE (product_id integer, units bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    p record := icash_period(lo, hi);
BEGIN
    IF lo IS NULL AND hi IS NULL THEN
        RETURN QUERY
        SELECT t.product_id, sum(t.units)::bigint
        FROM product_totals t WHERE branch IS NULL OR t.branch_id = branch
        GROUP BY t.product_id;
        RETURN;
    END IF;
    RETURN QUERY
    SELECT s.product_id, sum(s.units)::bigint
    FROM (
        SELECT d.product_id, d.branch_id, d.units FROM product_days d
        WHERE d.day >= icash_day(p.day_lo) AND d.day < icash_day(p.day_hi)
        UNION ALL
        SELECT h.product_id, h.branch_id, h.units FROM product_hours h
        WHERE (h.hour >= p.hour_lo AND h.hour < p.day_lo) OR (h.hour >= p.day_hi AND h.hour < p.hour_hi)
        UNION ALL
        SELECT l.product_id, u.branch_id, 1 FROM purchases u JOIN purchase_lines l ON l.purchase_id = u.id
        WHERE (u.purchased_at >= p.lo AND u.purchased_at < p.hour_lo)
           OR (u.purchased_at >= p.hour_hi AND u.purchased_at < p.hi)
    ) AS s
    WHERE branch IS NULL OR s.branch_id = branch
    GROUP BY s.product_id;
END;
$$;

-- The triggers of the aggregates migration, with the hourly aggregates added.
CREATE OR REPLACE FUNCTION icash_count_purchases() RETURNS trigger LANGUAGE plpgsql AS $$
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

-- One join of the new lines to their purchases, summed per hour, then per day and in all from
-- those sums (as icash_rebuild_aggregates does), rather than one join per aggregate.
CREATE OR REPLACE FUNCTION icash_count_units() RETURNS trigger LANGUAGE plpgsql AS $$
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

-- Recomputes every aggregate from the purchases and their lines, into shard 0 (shards only
-- spread concurrent writers; readers always add them up). Bulk loads call it once at the end
-- instead of running the triggers batch by batch; it also fills the hourly aggregates here.
CREATE FUNCTION icash_rebuild_aggregates() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO customers (id, purchases, spent, first_purchase, last_purchase)
    SELECT customer_id, count(*), sum(total), min(purchased_at), max(purchased_at)
    FROM purchases GROUP BY customer_id
    ON CONFLICT (id) DO UPDATE
        SET purchases = excluded.purchases, spent = excluded.spent,
            first_purchase = excluded.first_purchase, last_purchase = excluded.last_purchase;

    TRUNCATE customer_histogram, customer_branches, branch_customers, branch_totals, branch_days,
        branch_hours, product_totals, product_days, product_hours;
    INSERT INTO customer_histogram (purchases, shard, customers)
    SELECT purchases, 0, count(*) FROM customers WHERE purchases > 0 GROUP BY 1;
    INSERT INTO customer_branches (branch_id, customer_id, purchases)
    SELECT branch_id, customer_id, count(*) FROM purchases GROUP BY 1, 2;
    INSERT INTO branch_customers (branch_id, shard, customers)
    SELECT branch_id, 0, count(*) FROM customer_branches GROUP BY 1;

    -- Hours first, then days and totals from the hours: one pass over the purchases and one
    -- join of the lines to them.
    INSERT INTO branch_hours (branch_id, hour, shard, purchases, revenue)
    SELECT branch_id, icash_hour(purchased_at), 0, count(*), sum(total) FROM purchases GROUP BY 1, 2;
    INSERT INTO branch_days (branch_id, day, shard, purchases, revenue)
    SELECT branch_id, icash_day(hour), 0, sum(purchases), sum(revenue) FROM branch_hours GROUP BY 1, 2;
    INSERT INTO branch_totals (branch_id, shard, purchases, revenue)
    SELECT branch_id, 0, sum(purchases), sum(revenue) FROM branch_days GROUP BY 1;

    INSERT INTO product_hours (product_id, branch_id, hour, shard, units)
    SELECT l.product_id, p.branch_id, icash_hour(p.purchased_at), 0, count(*)
    FROM purchase_lines l JOIN purchases p ON p.id = l.purchase_id GROUP BY 1, 2, 3;
    INSERT INTO product_days (product_id, branch_id, day, shard, units)
    SELECT product_id, branch_id, icash_day(hour), 0, sum(units) FROM product_hours GROUP BY 1, 2, 3;
    INSERT INTO product_totals (product_id, branch_id, shard, units)
    SELECT product_id, branch_id, 0, sum(units) FROM product_days GROUP BY 1, 2;
END;
$$;

SELECT icash_rebuild_aggregates();

-- A bulk load into an empty store (icash-postgres's import session), in one transaction:
-- icash_bulk_load_begin sets the purchases' foreign keys and secondary indexes aside and
-- pauses the aggregate triggers, the load COPYs its rows in, and icash_bulk_load_finish
-- rebuilds the aggregates, then the indexes, then checks the foreign keys, each in one pass.
-- This is far cheaper than keeping them up to date row by row; the tables are locked meanwhile
-- (ACCESS EXCLUSIVE), and a failed load rolls all of it back. icash_bulk_load_begin returns the
-- first purchase id the load may use: it numbers its purchases itself from there, as nobody
-- else can insert any until it commits, and icash_bulk_load_finish moves the sequence past them.
CREATE FUNCTION icash_bulk_load_begin() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    item record;
BEGIN
    CREATE TEMP TABLE icash_set_aside (
        -- Indexes (1) are restored before the foreign keys (2) that may use them.
        kind smallint NOT NULL,
        restore text NOT NULL
    ) ON COMMIT DROP;
    FOR item IN
        SELECT c.conrelid::regclass AS tab, c.conname, pg_get_constraintdef(c.oid) AS def
        FROM pg_constraint c
        WHERE c.contype = 'f' AND c.conrelid IN ('purchases'::regclass, 'purchase_lines'::regclass)
        ORDER BY c.conname
    LOOP
        INSERT INTO icash_set_aside
        VALUES (2, format('ALTER TABLE %s ADD CONSTRAINT %I %s', item.tab, item.conname, item.def));
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', item.tab, item.conname);
    END LOOP;
    -- Unique indexes (the primary keys among them) stay: they enforce rules, not speed.
    FOR item IN
        SELECT i.indexrelid::regclass AS idx, pg_get_indexdef(i.indexrelid) AS def
        FROM pg_index i
        WHERE i.indrelid IN ('purchases'::regclass, 'purchase_lines'::regclass, 'customers'::regclass)
          AND NOT i.indisunique
        ORDER BY 1
    LOOP
        INSERT INTO icash_set_aside VALUES (1, item.def);
        EXECUTE format('DROP INDEX %s', item.idx);
    END LOOP;
    ALTER TABLE purchases DISABLE TRIGGER purchases_count;
    ALTER TABLE purchase_lines DISABLE TRIGGER purchase_lines_count;
    RETURN nextval(pg_get_serial_sequence('purchases', 'id'));
END;
$$;

CREATE FUNCTION icash_bulk_load_finish() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    item record;
BEGIN
    -- Sorting and hashing millions of rows in memory rather than in temporary files.
    PERFORM set_config('work_mem', '256MB', true);
    PERFORM set_config('maintenance_work_mem', '512MB', true);
    PERFORM setval(pg_get_serial_sequence('purchases', 'id'), max(id)) FROM purchases HAVING max(id) IS NOT NULL;
    PERFORM icash_rebuild_aggregates();
    FOR item IN SELECT restore FROM icash_set_aside ORDER BY kind, restore LOOP
        EXECUTE item.restore;
    END LOOP;
    DROP TABLE icash_set_aside;
    ALTER TABLE purchases ENABLE TRIGGER purchases_count;
    ALTER TABLE purchase_lines ENABLE TRIGGER purchase_lines_count;
    ANALYZE purchases, purchase_lines, customers;
END;
$$;
