-- Purchases are read by period through one index, (branch_id, purchased_at), for one branch or
-- for all: a period of every branch is one range of that index per branch (an `= ANY` of the
-- branches' ids, which a B-tree scans as one descent per id). The index on (purchased_at) alone
-- goes: every purchase paid for an entry in it, and every bulk load for building it (5 to 6 of a
-- 10 million purchase load's 60 seconds on a slow machine), while what it served costs a few
-- descents more without it. A chain of many branches pays one descent per branch on a period's
-- distinct customers and on its edges' purchases.

DROP INDEX purchases_purchased_at_customer_idx;

-- The branches a filter covers: the one it names, or every branch when it names none.
-- PL/pgSQL rather than SQL: a SQL function with a subquery is not inlined, and is planned
-- again in every statement that calls it (50 to 75 microseconds a call, against about 20).
CREATE FUNCTION icash_branch_ids(branch integer) RETURNS integer[]
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    RETURN CASE WHEN branch IS NULL THEN ARRAY(SELECT id FROM branches ORDER BY id) ELSE ARRAY[branch] END;
END;
$$;

-- As in the signed_period_edges migration, with the purchases of a partial hour read through the
-- branches' index, for the branches asked once per call.

CREATE OR REPLACE FUNCTION icash_branch_sales(branch integer, lo timestamptz, hi timestamptz)
RETURNS TABLE (branch_id integer, purchases bigint, revenue numeric)
LANGUAGE plpgsql STABLE
SET max_parallel_workers_per_gather = 0 AS $$
DECLARE
    p record := icash_period(lo, hi);
    ids integer[];
BEGIN
    IF lo IS NULL AND hi IS NULL THEN
        RETURN QUERY
        SELECT t.branch_id, sum(t.purchases)::bigint, sum(t.revenue)
        FROM branch_totals t WHERE branch IS NULL OR t.branch_id = branch
        GROUP BY t.branch_id;
        RETURN;
    END IF;
    ids := icash_branch_ids(branch);
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
        SELECT u.branch_id, icash_sign(p.lo, p.hour_lo), u.total * icash_sign(p.lo, p.hour_lo)
        FROM purchases u
        WHERE u.branch_id = ANY (ids)
          AND u.purchased_at >= least(p.lo, p.hour_lo) AND u.purchased_at < greatest(p.lo, p.hour_lo)
        UNION ALL
        SELECT u.branch_id, icash_sign(p.hour_hi, p.hi), u.total * icash_sign(p.hour_hi, p.hi)
        FROM purchases u
        WHERE u.branch_id = ANY (ids)
          AND u.purchased_at >= least(p.hour_hi, p.hi) AND u.purchased_at < greatest(p.hour_hi, p.hi)
    ) AS s
    WHERE branch IS NULL OR s.branch_id = branch
    GROUP BY s.branch_id
    HAVING sum(s.purchases) <> 0;
END;
$$;

CREATE OR REPLACE FUNCTION icash_product_units(branch integer, lo timestamptz, hi timestamptz)
RETURNS TABLE (product_id integer, units bigint)
LANGUAGE plpgsql STABLE
SET max_parallel_workers_per_gather = 0 AS $$
DECLARE
    p record := icash_period(lo, hi);
    ids integer[];
BEGIN
    IF lo IS NULL AND hi IS NULL THEN
        RETURN QUERY
        SELECT t.product_id, sum(t.units)::bigint
        FROM product_totals t WHERE branch IS NULL OR t.branch_id = branch
        GROUP BY t.product_id;
        RETURN;
    END IF;
    ids := icash_branch_ids(branch);
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
        SELECT l.product_id, u.branch_id, icash_sign(p.lo, p.hour_lo)
        FROM purchases u JOIN purchase_lines l ON l.purchase_id = u.id
        WHERE u.branch_id = ANY (ids)
          AND u.purchased_at >= least(p.lo, p.hour_lo) AND u.purchased_at < greatest(p.lo, p.hour_lo)
        UNION ALL
        SELECT l.product_id, u.branch_id, icash_sign(p.hour_hi, p.hi)
        FROM purchases u JOIN purchase_lines l ON l.purchase_id = u.id
        WHERE u.branch_id = ANY (ids)
          AND u.purchased_at >= least(p.hour_hi, p.hi) AND u.purchased_at < greatest(p.hour_hi, p.hi)
    ) AS s
    WHERE branch IS NULL OR s.branch_id = branch
    GROUP BY s.product_id
    HAVING sum(s.units) <> 0;
END;
$$;
