-- Sales over a period, from the monthly, daily and hourly aggregates and the purchases of the
-- period's partial edges. The sums are SQL functions, so that the server and the pgbench
-- ceilings (bench/pgbench) run the very same statements.
--
-- A period's edges are cut at the nearest boundary of each level, outward as well as inward,
-- and what an outward cut takes in beyond the period is subtracted. The aggregate rows hold
-- exact counts and sums, so a subtraction is as exact as an addition. A year from 10:00 UTC on
-- 1 January reads twelve months, minus the first day's ten hours before 10:00, plus the last
-- day's ten hours. An edge never needs more than half of a level's unit from the level below,
-- and the purchases read for a partial hour are at most half an hour's.
--
-- icash_period returns points that telescope: with S_level(a, b) the level's rows in [a, b)
-- when a <= b, and minus those in [b, a) otherwise, the period [lo, hi) is
--     S_purchases(lo, hour_lo) + S_hours(hour_lo, day_lo) + S_days(day_lo, month_lo)
--   + S_months(month_lo, month_hi)
--   + S_days(month_hi, day_hi) + S_hours(day_hi, hour_hi) + S_purchases(hour_hi, hi).
-- The identity holds for any points, so long as each piece's two ends are boundaries of its
-- level or equal (an empty piece). A level is used only where it leaves less to read below it
-- than the level below would read alone; otherwise its points collapse onto the last point
-- of the level below, and its pieces are empty.

-- The first instant of an instant's UTC day, and of its UTC month (an infinite instant is its
-- own floor). The next day's and month's first instants come from calendar arithmetic on dates
-- instead: adding '1 day' to a timestamptz would follow the session's time zone across a DST
-- change.
CREATE FUNCTION icash_day_floor(at timestamptz) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN date_trunc('day', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
CREATE FUNCTION icash_month_floor(at timestamptz) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN isfinite(at) THEN icash_month(icash_day(at))::timestamp AT TIME ZONE 'UTC' ELSE at END;

-- The boundary nearest to `at` of `down` <= `at` < `up`: `at` itself when it is one, or when it
-- is infinite; on a tie, inward (`up` for a period's first instant, `down` for its end).
CREATE FUNCTION icash_nearest(at timestamptz, down timestamptz, up timestamptz, opens boolean)
RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE
        WHEN NOT isfinite(at) OR at = down THEN at
        WHEN at - down < up - at OR (at - down = up - at AND NOT opens) THEN down
        ELSE up
    END;

-- The length of [a, b) or [b, a), in seconds; both finite.
CREATE FUNCTION icash_span(a timestamptz, b timestamptz) RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN abs(extract(epoch FROM b - a));

-- Whether a level, cut at [lo_pt, hi_pt), reads fewer rows than the level below it would
-- alone over [outer_lo, outer_hi): its own rows, one per `unit` seconds (none when `unit` is
-- null: an hour's rows cost next to nothing beside an hour's purchases), plus the level below's
-- at the two edges, one per `sub_unit` seconds. A period open at one end needs no edge there,
-- and always uses the level.
CREATE FUNCTION icash_level_pays(outer_lo timestamptz, outer_hi timestamptz,
    lo_pt timestamptz, hi_pt timestamptz, unit numeric, sub_unit numeric) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    IF lo_pt >= hi_pt THEN
        RETURN false;
    END IF;
    -- Before any span: an infinite one cannot be measured.
    IF NOT (isfinite(outer_lo) AND isfinite(outer_hi)) THEN
        RETURN true;
    END IF;
    RETURN coalesce(icash_span(lo_pt, hi_pt) / unit, 0)
           + (icash_span(outer_lo, lo_pt) + icash_span(hi_pt, outer_hi)) / sub_unit
           < icash_span(outer_lo, outer_hi) / sub_unit;
END;
$$;

-- The sign of the piece S(a, b): 1 when it adds the rows in [a, b), -1 when it takes away
-- those in [b, a).
CREATE FUNCTION icash_sign(a timestamptz, b timestamptz) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN a <= b THEN 1 ELSE -1 END;

-- The points that split the period [from_at, to_at) (either end may be NULL: unbounded) into
-- its levels' pieces, as above.
CREATE FUNCTION icash_period(from_at timestamptz, to_at timestamptz,
    OUT lo timestamptz, OUT hi timestamptz,
    OUT hour_lo timestamptz, OUT hour_hi timestamptz,
    OUT day_lo timestamptz, OUT day_hi timestamptz,
    OUT month_lo timestamptz, OUT month_hi timestamptz)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    lo := coalesce(from_at, '-infinity');
    hi := greatest(lo, coalesce(to_at, 'infinity'));

    -- Hours, where the purchases left at the edges are fewer than the period's own.
    hour_lo := icash_nearest(lo, icash_hour(lo), icash_hour(lo) + interval '1 hour', true);
    hour_hi := icash_nearest(hi, icash_hour(hi), icash_hour(hi) + interval '1 hour', false);
    IF NOT icash_level_pays(lo, hi, hour_lo, hour_hi, NULL, 1) THEN
        hour_lo := hi; hour_hi := hi; day_lo := hi; day_hi := hi; month_lo := hi; month_hi := hi;
        RETURN;
    END IF;

    -- Days, over the hours. The next day's and month's first instants come from calendar
    -- arithmetic on dates: adding '1 day' to a timestamptz would follow the session's time zone
    -- across a DST change.
    day_lo := icash_nearest(hour_lo, icash_day_floor(hour_lo),
                            (icash_day(hour_lo) + 1)::timestamp AT TIME ZONE 'UTC', true);
    day_hi := icash_nearest(hour_hi, icash_day_floor(hour_hi),
                            (icash_day(hour_hi) + 1)::timestamp AT TIME ZONE 'UTC', false);
    IF NOT icash_level_pays(hour_lo, hour_hi, day_lo, day_hi, 86400, 3600) THEN
        day_lo := hour_hi; day_hi := hour_hi; month_lo := hour_hi; month_hi := hour_hi;
        RETURN;
    END IF;

    -- Months, over the days (a month counted as 30 days: it only weighs the choice).
    month_lo := icash_nearest(day_lo, icash_month_floor(day_lo),
                              (icash_month(icash_day(day_lo)) + interval '1 month')::timestamp AT TIME ZONE 'UTC', true);
    month_hi := icash_nearest(day_hi, icash_month_floor(day_hi),
                              (icash_month(icash_day(day_hi)) + interval '1 month')::timestamp AT TIME ZONE 'UTC', false);
    IF NOT icash_level_pays(day_lo, day_hi, month_lo, month_hi, 30 * 86400, 86400) THEN
        month_lo := day_hi; month_hi := day_hi;
    END IF;
END;
$$;

-- The branches a filter covers: the one it names, or every branch when it names none.
-- PL/pgSQL rather than SQL: a SQL function with a subquery is not inlined, and is planned
-- again in every statement that calls it.
CREATE FUNCTION icash_branch_ids(branch integer) RETURNS integer[]
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    RETURN CASE WHEN branch IS NULL THEN ARRAY(SELECT id FROM branches ORDER BY id) ELSE ARRAY[branch] END;
END;
$$;

-- Purchases and revenue per branch in [lo, hi), for one branch or all (NULL): the whole
-- history from the totals; a period as the pieces above, each a separate arm of the union (a
-- plain range of its level's time index, read by an index-only scan, where an OR of the two
-- edges could only be a bitmap scan of the table). The purchases of a partial hour are read
-- through the branches' index, for the branches asked, fetched once per call. A branch whose
-- pieces cancel out sold nothing in the period, and is left out.
--
-- Two settings of the function's own:
-- - No parallel workers: the query reads a few thousand aggregate rows, and starting workers
--   costs more than they share.
-- - A generic plan, made once per session. PL/pgSQL caches the plan of each statement, but for
--   a statement with parameters (here the period's points) it makes a custom plan for the
--   call's values whenever the generic plan's estimated cost is higher, which with ranges of
--   timestamps it always is, and planning the seven-part query costs more than running it. The
--   generic plan reads each level through its time index whatever the period, which is the
--   plan a custom one chooses too: the edges never hold more than half a unit of the level
--   below them.
CREATE FUNCTION icash_branch_sales(branch integer, lo timestamptz, hi timestamptz)
RETURNS TABLE (branch_id integer, purchases bigint, revenue numeric)
LANGUAGE plpgsql STABLE
SET max_parallel_workers_per_gather = 0
SET plan_cache_mode = force_generic_plan AS $$
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

-- Units sold per product in [lo, hi), at one branch or all (NULL), read as icash_branch_sales
-- reads sales, with the same settings.
CREATE FUNCTION icash_product_units(branch integer, lo timestamptz, hi timestamptz)
RETURNS TABLE (product_id integer, units bigint)
LANGUAGE plpgsql STABLE
SET max_parallel_workers_per_gather = 0
SET plan_cache_mode = force_generic_plan AS $$
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
