-- The sales per branch (purchases and revenue) and the units sold per product, in all and per
-- UTC month, day and hour, leave the purchase's transaction: the rollup folds them, with the
-- customer sets, from the pending purchases (customer_set_pending), and reads add the purchases
-- still pending (their branch, instant and cents are in the queue's row; their units in their
-- lines). Four upserts per purchase and four per line, on rows that every concurrent purchase of
-- the same branch and hour also writes, were about two fifths of what recording a purchase cost
-- PostgreSQL; folded, a batch of purchases writes each branch's and product's hour once.
--
-- Exactly once, as for the sets: the rollup deletes a batch of pending rows and adds them in
-- one transaction, so a snapshot sees a purchase either pending (read from the purchase) or
-- folded (in the aggregates), never both. A void holds the rollup's lock from before its row is
-- written: its trigger takes the purchase off the aggregates, and a purchase still pending,
-- which was never added, gets it back there as it leaves the queue (customer_sets.rs,
-- `uncount_void`).

-- The rollup's lock (customer_sets.rs, LOCK): no fold runs while the pending purchases, which
-- the triggers changed here have already counted, are taken off again below.
SELECT pg_advisory_xact_lock(7594020544978314612);

DROP TRIGGER purchase_lines_count ON purchase_lines;
DROP FUNCTION icash_count_units();
DROP TRIGGER purchases_count_months ON purchases;
DROP FUNCTION icash_count_purchase_months();

-- As in the aggregates migration, without the branches' totals, days and hours.
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
    RETURN NULL;
END;
$$;

-- Adds `sign` times the purchases `purchase_ids` to their branches' totals, months, days and
-- hours.
CREATE FUNCTION icash_count_branch_sales(purchase_ids bigint[], sign integer) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    WITH hours AS MATERIALIZED (
        SELECT p.branch_id, icash_hour(p.purchased_at) AS hour, icash_shard(p.id) AS shard,
               sign * count(*) AS purchases, sign * sum(p.total) AS revenue
        FROM purchases p
        WHERE p.id = ANY (purchase_ids)
        GROUP BY 1, 2, 3
    ),
    totals AS (
        INSERT INTO branch_totals AS t (branch_id, shard, purchases, revenue)
        SELECT branch_id, shard, sum(purchases)::bigint, sum(revenue) FROM hours
        GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (branch_id, shard) DO UPDATE
            SET purchases = t.purchases + excluded.purchases, revenue = t.revenue + excluded.revenue
    ),
    months AS (
        INSERT INTO branch_months AS m (branch_id, month, shard, purchases, revenue)
        SELECT branch_id, icash_month(icash_day(hour)), shard, sum(purchases)::bigint, sum(revenue) FROM hours
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (branch_id, month, shard) DO UPDATE
            SET purchases = m.purchases + excluded.purchases, revenue = m.revenue + excluded.revenue
    ),
    days AS (
        INSERT INTO branch_days AS d (branch_id, day, shard, purchases, revenue)
        SELECT branch_id, icash_day(hour), shard, sum(purchases)::bigint, sum(revenue) FROM hours
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (branch_id, day, shard) DO UPDATE
            SET purchases = d.purchases + excluded.purchases, revenue = d.revenue + excluded.revenue
    )
    INSERT INTO branch_hours AS h (branch_id, hour, shard, purchases, revenue)
    SELECT branch_id, hour, shard, purchases, revenue FROM hours
    ORDER BY 1, 2, 3
    ON CONFLICT (branch_id, hour, shard) DO UPDATE
        SET purchases = h.purchases + excluded.purchases, revenue = h.revenue + excluded.revenue;
END;
$$;

-- Adds `sign` times the units of the lines of the purchases `purchase_ids` to the products'
-- totals, months, days and hours (shard by purchase, as the other aggregates): one join of the
-- lines to their purchases, summed per hour, and the coarser levels from those sums.
CREATE FUNCTION icash_count_units(purchase_ids bigint[], sign integer) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    WITH hours AS MATERIALIZED (
        SELECT l.product_id, p.branch_id, icash_hour(p.purchased_at) AS hour,
               icash_shard(p.id) AS shard, sign * count(*) AS units
        FROM purchases p JOIN purchase_lines l ON l.purchase_id = p.id
        WHERE p.id = ANY (purchase_ids)
        GROUP BY 1, 2, 3, 4
    ),
    totals AS (
        INSERT INTO product_totals AS t (product_id, branch_id, shard, units)
        SELECT product_id, branch_id, shard, sum(units)::bigint FROM hours
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (product_id, branch_id, shard) DO UPDATE SET units = t.units + excluded.units
    ),
    months AS (
        INSERT INTO product_months AS m (product_id, branch_id, month, shard, units)
        SELECT product_id, branch_id, icash_month(icash_day(hour)), shard, sum(units)::bigint FROM hours
        GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (product_id, branch_id, month, shard) DO UPDATE SET units = m.units + excluded.units
    ),
    days AS (
        INSERT INTO product_days AS d (product_id, branch_id, day, shard, units)
        SELECT product_id, branch_id, icash_day(hour), shard, sum(units)::bigint FROM hours
        GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (product_id, branch_id, day, shard) DO UPDATE SET units = d.units + excluded.units
    )
    INSERT INTO product_hours AS h (product_id, branch_id, hour, shard, units)
    SELECT product_id, branch_id, hour, shard, units FROM hours
    ORDER BY 1, 2, 3, 4
    ON CONFLICT (product_id, branch_id, hour, shard) DO UPDATE SET units = h.units + excluded.units;
END;
$$;

-- The purchases pending now were counted by the triggers just changed: the rollup will add them.
SELECT icash_count_branch_sales(array(SELECT purchase_id FROM customer_set_pending), -1),
       icash_count_units(array(SELECT purchase_id FROM customer_set_pending), -1);

-- As in the refunds_and_voids migration, with the pending purchases of [hour_lo, hour_hi) (see
-- icash_product_units below).
CREATE OR REPLACE FUNCTION icash_branch_sales(branch integer, lo timestamptz, hi timestamptz)
RETURNS TABLE (branch_id integer, purchases bigint, revenue numeric)
LANGUAGE plpgsql STABLE
SET max_parallel_workers_per_gather = 0
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    p record := icash_period(lo, hi);
    ids integer[] := icash_branch_ids(branch);
BEGIN
    IF lo IS NULL AND hi IS NULL THEN
        RETURN QUERY
        SELECT t.branch_id, sum(t.purchases)::bigint, sum(t.revenue)
        FROM (
            SELECT t.branch_id, t.purchases, t.revenue FROM branch_totals t
            UNION ALL
            SELECT q.branch_id, 1, q.cents * 0.01 FROM customer_set_pending q
        ) AS t
        WHERE branch IS NULL OR t.branch_id = branch
        GROUP BY t.branch_id;
        RETURN;
    END IF;
    RETURN QUERY
    SELECT s.branch_id, sum(s.purchases)::bigint, sum(s.revenue)
    FROM (
        SELECT m.branch_id, m.purchases, m.revenue FROM branch_months m
        WHERE m.month >= icash_day(p.month_lo) AND m.month < icash_day(p.month_hi)
        UNION ALL
        SELECT d.branch_id, d.purchases * icash_sign(p.day_lo, p.month_lo), d.revenue * icash_sign(p.day_lo, p.month_lo)
        FROM branch_days d
        WHERE d.day >= icash_day(least(p.day_lo, p.month_lo)) AND d.day < icash_day(greatest(p.day_lo, p.month_lo))
        UNION ALL
        SELECT d.branch_id, d.purchases * icash_sign(p.month_hi, p.day_hi), d.revenue * icash_sign(p.month_hi, p.day_hi)
        FROM branch_days d
        WHERE d.day >= icash_day(least(p.month_hi, p.day_hi)) AND d.day < icash_day(greatest(p.month_hi, p.day_hi))
        UNION ALL
        SELECT h.branch_id, h.purchases * icash_sign(p.hour_lo, p.day_lo), h.revenue * icash_sign(p.hour_lo, p.day_lo)
        FROM branch_hours h
        WHERE h.hour >= least(p.hour_lo, p.day_lo) AND h.hour < greatest(p.hour_lo, p.day_lo)
        UNION ALL
        SELECT h.branch_id, h.purchases * icash_sign(p.day_hi, p.hour_hi), h.revenue * icash_sign(p.day_hi, p.hour_hi)
        FROM branch_hours h
        WHERE h.hour >= least(p.day_hi, p.hour_hi) AND h.hour < greatest(p.day_hi, p.hour_hi)
        UNION ALL
        SELECT q.branch_id, 1, q.cents * 0.01 FROM customer_set_pending q
        WHERE q.branch_id = ANY (ids) AND q.purchased_at >= p.hour_lo AND q.purchased_at < p.hour_hi
        UNION ALL
        SELECT u.branch_id, icash_sign(p.lo, p.hour_lo), u.total * icash_sign(p.lo, p.hour_lo)
        FROM purchases u
        WHERE u.branch_id = ANY (ids)
          AND u.purchased_at >= least(p.lo, p.hour_lo) AND u.purchased_at < greatest(p.lo, p.hour_lo)
        UNION ALL
        SELECT u.branch_id, icash_sign(p.hour_hi, p.hi), u.total * icash_sign(p.hour_hi, p.hi)
        FROM purchases u
        WHERE u.branch_id = ANY (ids)
          AND u.purchased_at >= least(p.hour_hi, p.hi) AND u.purchased_at < greatest(p.hour_hi, p.hi)
        UNION ALL
        SELECT v.branch_id, -icash_sign(p.lo, p.hour_lo), v.total * -icash_sign(p.lo, p.hour_lo)
        FROM purchase_voids v
        WHERE v.branch_id = ANY (ids)
          AND v.purchased_at >= least(p.lo, p.hour_lo) AND v.purchased_at < greatest(p.lo, p.hour_lo)
        UNION ALL
        SELECT v.branch_id, -icash_sign(p.hour_hi, p.hi), v.total * -icash_sign(p.hour_hi, p.hi)
        FROM purchase_voids v
        WHERE v.branch_id = ANY (ids)
          AND v.purchased_at >= least(p.hour_hi, p.hi) AND v.purchased_at < greatest(p.hour_hi, p.hi)
    ) AS s
    WHERE branch IS NULL OR s.branch_id = branch
    GROUP BY s.branch_id
    HAVING sum(s.purchases) <> 0;
END;
$$;

-- As in the refunds_and_voids migration, with the pending purchases' lines: the levels stand
-- for [hour_lo, hour_hi) of the purchases folded, so the pending ones of that span are added
-- (the edges read every purchase, pending or not). A voided purchase has no pending row: the
-- void deletes it.
CREATE OR REPLACE FUNCTION icash_product_units(branch integer, lo timestamptz, hi timestamptz)
RETURNS TABLE (product_id integer, units bigint)
LANGUAGE plpgsql STABLE
SET max_parallel_workers_per_gather = 0
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    p record := icash_period(lo, hi);
    ids integer[] := icash_branch_ids(branch);
BEGIN
    IF lo IS NULL AND hi IS NULL THEN
        RETURN QUERY
        SELECT t.product_id, sum(t.units)::bigint
        FROM (
            SELECT t.product_id, t.branch_id, t.units FROM product_totals t
            UNION ALL
            SELECT l.product_id, q.branch_id, 1
            FROM customer_set_pending q JOIN purchase_lines l ON l.purchase_id = q.purchase_id
        ) AS t
        WHERE branch IS NULL OR t.branch_id = branch
        GROUP BY t.product_id
        HAVING sum(t.units) <> 0;
        RETURN;
    END IF;
    RETURN QUERY
    SELECT s.product_id, sum(s.units)::bigint
    FROM (
        SELECT m.product_id, m.branch_id, m.units FROM product_months m
        WHERE m.month >= icash_day(p.month_lo) AND m.month < icash_day(p.month_hi)
        UNION ALL
        SELECT d.product_id, d.branch_id, d.units * icash_sign(p.day_lo, p.month_lo) FROM product_days d
        WHERE d.day >= icash_day(least(p.day_lo, p.month_lo)) AND d.day < icash_day(greatest(p.day_lo, p.month_lo))
        UNION ALL
        SELECT d.product_id, d.branch_id, d.units * icash_sign(p.month_hi, p.day_hi) FROM product_days d
        WHERE d.day >= icash_day(least(p.month_hi, p.day_hi)) AND d.day < icash_day(greatest(p.month_hi, p.day_hi))
        UNION ALL
        SELECT h.product_id, h.branch_id, h.units * icash_sign(p.hour_lo, p.day_lo) FROM product_hours h
        WHERE h.hour >= least(p.hour_lo, p.day_lo) AND h.hour < greatest(p.hour_lo, p.day_lo)
        UNION ALL
        SELECT h.product_id, h.branch_id, h.units * icash_sign(p.day_hi, p.hour_hi) FROM product_hours h
        WHERE h.hour >= least(p.day_hi, p.hour_hi) AND h.hour < greatest(p.day_hi, p.hour_hi)
        UNION ALL
        SELECT l.product_id, q.branch_id, 1
        FROM customer_set_pending q JOIN purchase_lines l ON l.purchase_id = q.purchase_id
        WHERE q.branch_id = ANY (ids) AND q.purchased_at >= p.hour_lo AND q.purchased_at < p.hour_hi
        UNION ALL
        SELECT l.product_id, u.branch_id, icash_sign(p.lo, p.hour_lo)
        FROM purchases u JOIN purchase_lines l ON l.purchase_id = u.id
        WHERE u.branch_id = ANY (ids)
          AND u.purchased_at >= least(p.lo, p.hour_lo) AND u.purchased_at < greatest(p.lo, p.hour_lo)
        UNION ALL
        SELECT l.product_id, u.branch_id, icash_sign(p.hour_hi, p.hi)
        FROM purchases u JOIN purchase_lines l ON l.purchase_id = u.id
        WHERE u.branch_id = ANY (ids)
          AND u.purchased_at >= least(p.hour_hi, p.hi) AND u.purchased_at < greatest(p.hour_hi, p.hi)
        UNION ALL
        SELECT l.product_id, v.branch_id, -icash_sign(p.lo, p.hour_lo)
        FROM purchase_voids v JOIN purchase_lines l ON l.purchase_id = v.purchase_id
        WHERE v.branch_id = ANY (ids)
          AND v.purchased_at >= least(p.lo, p.hour_lo) AND v.purchased_at < greatest(p.lo, p.hour_lo)
        UNION ALL
        SELECT l.product_id, v.branch_id, -icash_sign(p.hour_hi, p.hi)
        FROM purchase_voids v JOIN purchase_lines l ON l.purchase_id = v.purchase_id
        WHERE v.branch_id = ANY (ids)
          AND v.purchased_at >= least(p.hour_hi, p.hi) AND v.purchased_at < greatest(p.hour_hi, p.hi)
    ) AS s
    WHERE branch IS NULL OR s.branch_id = branch
    GROUP BY s.product_id
    HAVING sum(s.units) <> 0;
END;
$$;

-- As in the business_day_sales migration, with the pending purchases among the hours' sales
-- and units.
CREATE OR REPLACE FUNCTION icash_rebuild_business_days(branch integer) RETURNS void
LANGUAGE plpgsql
SET max_parallel_workers_per_gather = 0 AS $$
BEGIN
    DELETE FROM branch_business_days d WHERE branch IS NULL OR d.branch_id = branch;
    INSERT INTO branch_business_days (branch_id, business_date, shard, purchases, revenue, units, refunds, refunded)
    WITH settings AS MATERIALIZED (
        SELECT id, time_zone, day_starts_at FROM branches WHERE branch IS NULL OR id = branch
    ),
    hours AS MATERIALIZED (
        SELECT h.branch_id, h.hour, sum(h.purchases) AS purchases, sum(h.revenue) AS revenue,
               icash_business_date(h.hour, s.time_zone, s.day_starts_at) AS first_date,
               icash_business_date(h.hour + interval '1 hour' - interval '1 microsecond', s.time_zone, s.day_starts_at)
                   AS last_date
        FROM (
            SELECT h.branch_id, h.hour, h.purchases, h.revenue FROM branch_hours h
            UNION ALL
            SELECT q.branch_id, icash_hour(q.purchased_at), 1, q.cents * 0.01 FROM customer_set_pending q
        ) AS h JOIN settings s ON s.id = h.branch_id
        GROUP BY h.branch_id, h.hour, s.time_zone, s.day_starts_at
    ),
    hour_units AS (
        SELECT u.branch_id, u.hour, sum(u.units) AS units
        FROM (
            SELECT u.branch_id, u.hour, u.units FROM product_hours u
            UNION ALL
            SELECT q.branch_id, icash_hour(q.purchased_at), 1
            FROM customer_set_pending q JOIN purchase_lines l ON l.purchase_id = q.purchase_id
        ) AS u JOIN settings s ON s.id = u.branch_id
        GROUP BY 1, 2
    ),
    rows AS (
        SELECT h.branch_id, h.first_date AS business_date, h.purchases, h.revenue,
               coalesce(u.units, 0) AS units, 0 AS refunds, 0 AS refunded
        FROM hours h LEFT JOIN hour_units u ON u.branch_id = h.branch_id AND u.hour = h.hour
        WHERE h.first_date = h.last_date
        UNION ALL
        SELECT p.branch_id, icash_business_date(p.purchased_at, s.time_zone, s.day_starts_at), 1, p.total,
               (SELECT count(*) FROM purchase_lines l WHERE l.purchase_id = p.id), 0, 0
        FROM hours h
        JOIN settings s ON s.id = h.branch_id
        JOIN purchases p ON p.branch_id = h.branch_id
                        AND p.purchased_at >= h.hour AND p.purchased_at < h.hour + interval '1 hour'
        WHERE h.first_date <> h.last_date
          AND NOT EXISTS (SELECT 1 FROM purchase_voids v WHERE v.purchase_id = p.id)
        UNION ALL
        SELECT r.branch_id, icash_business_date(r.refunded_at, s.time_zone, s.day_starts_at), 0, 0, 0, 1, r.amount
        FROM refunds r JOIN settings s ON s.id = r.branch_id
    )
    SELECT branch_id, business_date, 0, sum(purchases), sum(revenue), sum(units), sum(refunds), sum(refunded)
    FROM rows
    GROUP BY 1, 2;
    -- The chain's days again, from every branch's.
    DELETE FROM chain_business_days;
    INSERT INTO chain_business_days (business_date, shard, purchases, revenue, units, refunds, refunded)
    SELECT business_date, 0, sum(purchases), sum(revenue), sum(units), sum(refunds), sum(refunded)
    FROM branch_business_days
    GROUP BY 1;
END;
$$;
