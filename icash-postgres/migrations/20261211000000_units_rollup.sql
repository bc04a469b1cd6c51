-- The units sold per product leave the purchase's transaction: the rollup folds them, with the
-- customer sets, from the pending purchases (customer_set_pending), and reads add the pending
-- purchases' lines to what is folded. A purchase's four upserts per line (totals, months, days,
-- hours) were a quarter of what recording it cost PostgreSQL; folded, a batch of purchases
-- writes each product's hour once.
--
-- Exactly once, as for the sets: the rollup deletes a batch of pending rows and adds their
-- units in one transaction, so a snapshot sees a purchase either pending (its lines read from
-- the purchase) or folded (in the aggregates), never both. A void holds the rollup's lock from
-- before its row is written: its trigger takes the purchase's units off the aggregates, and a
-- purchase still pending, whose units were never added, gets them back there as it leaves the
-- queue (customer_sets.rs, `uncount_void`).

-- The rollup's lock (customer_sets.rs, LOCK): no fold runs while the pending purchases, whose
-- units the removed trigger has already counted, are taken off again below.
SELECT pg_advisory_xact_lock(7594020544978314612);

DROP TRIGGER purchase_lines_count ON purchase_lines;
DROP FUNCTION icash_count_units();

-- Adds `sign` times the units of the lines of `purchases` to the products' totals, months,
-- days and hours (shard by purchase, as the other aggregates), one join of the lines to their
-- purchases summed per hour and the coarser levels from those sums.
CREATE FUNCTION icash_count_units(purchases bigint[], sign integer) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    WITH hours AS MATERIALIZED (
        SELECT l.product_id, p.branch_id, icash_hour(p.purchased_at) AS hour,
               icash_shard(p.id) AS shard, sign * count(*) AS units
        FROM purchases p JOIN purchase_lines l ON l.purchase_id = p.id
        WHERE p.id = ANY (purchases)
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

-- The purchases pending now were counted by the trigger just removed: the rollup will add them.
SELECT icash_count_units(array(SELECT purchase_id FROM customer_set_pending), -1);

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

-- As in the business_day_sales migration, with the pending purchases' lines among the hours'
-- units.
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
        FROM branch_hours h JOIN settings s ON s.id = h.branch_id
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
