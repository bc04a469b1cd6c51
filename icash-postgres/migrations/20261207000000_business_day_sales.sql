-- Sales per branch and business date, and the chain's per business date (each branch's dates in
-- its own zone, added up), for the sales over time: a year of a branch's or the chain's days is
-- at most 366 rows (per shard), whatever the zones, so a series by day, week or month reads no
-- purchase.
--
-- A business date is reckoned in the branch's zone from its start of day, in PostgreSQL (the
-- triggers see only rows): icash_business_date reckons it exactly as the domain's
-- business_day::business_date does, with PostgreSQL's zone database, which must agree with the
-- one the server is built with (both are the IANA database; they differ only on rules changed
-- between their releases). The branch's settings are read from the branches table by each
-- statement, and a change of a branch's zone or start of day rebuilds its rows in the same
-- transaction (icash_rebuild_business_days).
--
-- The rows move by deltas from statement-level triggers, as the UTC aggregates do, and are
-- sharded as they are. Each trigger here runs after the aggregates' own on its table (triggers
-- fire in the order of their names), so that every transaction locks the aggregate rows in the
-- same order: the branches' UTC rows, the products', then these.

-- The business date of `at` at a branch whose clocks follow `zone` and whose business day starts
-- at `day_start`: the last date whose business day started at or before `at`. That is the local
-- date of `at` less the start of day, but when the clocks went back over the start of day, the
-- instants after the first pass through it (which show a local time before it again) belong to
-- the day it started: icash_showed tells them apart.
--
-- PostgreSQL reads a local time the clocks showed twice as the later instant, and one they
-- skipped with the offset before the gap; the first instant a local time was shown is found from
-- the offset three hours before `at` instead (no zone changes its clocks twice in three hours).
CREATE FUNCTION icash_showed(at timestamptz, zone text, local timestamp) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (local - ((at - interval '3 hours') AT TIME ZONE zone - (at - interval '3 hours') AT TIME ZONE 'UTC'))
               AT TIME ZONE 'UTC' <= at
       AND ((local - ((at - interval '3 hours') AT TIME ZONE zone - (at - interval '3 hours') AT TIME ZONE 'UTC'))
               AT TIME ZONE 'UTC') AT TIME ZONE zone = local;
CREATE FUNCTION icash_business_date(at timestamptz, zone text, day_start time) RETURNS date
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ((at AT TIME ZONE zone) - day_start::interval)::date
        + CASE WHEN icash_showed(at, zone, (((at AT TIME ZONE zone) - day_start::interval)::date + 1) + day_start)
               THEN 1 ELSE 0 END;

-- A branch's purchases not voided on each business date, their revenue and units, and the
-- refunds made that date (by their own instant) of its purchases.
CREATE TABLE branch_business_days (
    branch_id integer NOT NULL,
    business_date date NOT NULL,
    shard smallint NOT NULL,
    purchases bigint NOT NULL,
    revenue numeric(16, 2) NOT NULL,
    units bigint NOT NULL,
    refunds bigint NOT NULL,
    refunded numeric(16, 2) NOT NULL,
    PRIMARY KEY (branch_id, business_date, shard)
);

-- The same, every branch's rows of a date added up: a chain's year of days is 366 rows a shard
-- to read, however many branches it has. Each trigger writes it after the branches' rows, in a
-- statement of its own, so that every transaction locks the two in the same order.
CREATE TABLE chain_business_days (
    business_date date NOT NULL,
    shard smallint NOT NULL,
    purchases bigint NOT NULL,
    revenue numeric(16, 2) NOT NULL,
    units bigint NOT NULL,
    refunds bigint NOT NULL,
    refunded numeric(16, 2) NOT NULL,
    PRIMARY KEY (business_date, shard)
);

-- The new purchases, counted from their lines: every statement that records a purchase inserts
-- all its lines with it (a purchase has at least one), so one join of the lines to their
-- purchases gives the purchases, their totals and their units at once.
CREATE FUNCTION icash_count_business_days() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH bought AS (
        SELECT purchase_id, count(*) AS units FROM new_lines GROUP BY 1
    )
    INSERT INTO branch_business_days AS d (branch_id, business_date, shard, purchases, revenue, units, refunds, refunded)
    SELECT p.branch_id, icash_business_date(p.purchased_at, b.time_zone, b.day_starts_at), icash_shard(p.id),
           count(*), sum(p.total), sum(n.units), 0, 0
    FROM bought n JOIN purchases p ON p.id = n.purchase_id JOIN branches b ON b.id = p.branch_id
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (branch_id, business_date, shard) DO UPDATE
        SET purchases = d.purchases + excluded.purchases, revenue = d.revenue + excluded.revenue,
            units = d.units + excluded.units;
    WITH bought AS (
        SELECT purchase_id, count(*) AS units FROM new_lines GROUP BY 1
    )
    INSERT INTO chain_business_days AS d (business_date, shard, purchases, revenue, units, refunds, refunded)
    SELECT icash_business_date(p.purchased_at, b.time_zone, b.day_starts_at), icash_shard(p.id),
           count(*), sum(p.total), sum(n.units), 0, 0
    FROM bought n JOIN purchases p ON p.id = n.purchase_id JOIN branches b ON b.id = p.branch_id
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (business_date, shard) DO UPDATE
        SET purchases = d.purchases + excluded.purchases, revenue = d.revenue + excluded.revenue,
            units = d.units + excluded.units;
    RETURN NULL;
END;
$$;

CREATE FUNCTION icash_count_business_day_refunds() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO branch_business_days AS d (branch_id, business_date, shard, purchases, revenue, units, refunds, refunded)
    SELECT r.branch_id, icash_business_date(r.refunded_at, b.time_zone, b.day_starts_at), icash_shard(r.id),
           0, 0, 0, count(*), sum(r.amount)
    FROM new_refunds r JOIN branches b ON b.id = r.branch_id
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (branch_id, business_date, shard) DO UPDATE
        SET refunds = d.refunds + excluded.refunds, refunded = d.refunded + excluded.refunded;
    INSERT INTO chain_business_days AS d (business_date, shard, purchases, revenue, units, refunds, refunded)
    SELECT icash_business_date(r.refunded_at, b.time_zone, b.day_starts_at), icash_shard(r.id),
           0, 0, 0, count(*), sum(r.amount)
    FROM new_refunds r JOIN branches b ON b.id = r.branch_id
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (business_date, shard) DO UPDATE
        SET refunds = d.refunds + excluded.refunds, refunded = d.refunded + excluded.refunded;
    RETURN NULL;
END;
$$;

CREATE FUNCTION icash_uncount_business_day_voids() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH voided AS (
        SELECT v.purchase_id, v.branch_id, v.purchased_at, v.total,
               (SELECT count(*) FROM purchase_lines l WHERE l.purchase_id = v.purchase_id) AS units
        FROM new_voids v
    )
    INSERT INTO branch_business_days AS d (branch_id, business_date, shard, purchases, revenue, units, refunds, refunded)
    SELECT v.branch_id, icash_business_date(v.purchased_at, b.time_zone, b.day_starts_at), icash_shard(v.purchase_id),
           -count(*), -sum(v.total), -sum(v.units), 0, 0
    FROM voided v JOIN branches b ON b.id = v.branch_id
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (branch_id, business_date, shard) DO UPDATE
        SET purchases = d.purchases + excluded.purchases, revenue = d.revenue + excluded.revenue,
            units = d.units + excluded.units;
    WITH voided AS (
        SELECT v.purchase_id, v.branch_id, v.purchased_at, v.total,
               (SELECT count(*) FROM purchase_lines l WHERE l.purchase_id = v.purchase_id) AS units
        FROM new_voids v
    )
    INSERT INTO chain_business_days AS d (business_date, shard, purchases, revenue, units, refunds, refunded)
    SELECT icash_business_date(v.purchased_at, b.time_zone, b.day_starts_at), icash_shard(v.purchase_id),
           -count(*), -sum(v.total), -sum(v.units), 0, 0
    FROM voided v JOIN branches b ON b.id = v.branch_id
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (business_date, shard) DO UPDATE
        SET purchases = d.purchases + excluded.purchases, revenue = d.revenue + excluded.revenue,
            units = d.units + excluded.units;
    RETURN NULL;
END;
$$;

CREATE TRIGGER purchase_lines_count_on_business_days AFTER INSERT ON purchase_lines
    REFERENCING NEW TABLE AS new_lines FOR EACH STATEMENT EXECUTE FUNCTION icash_count_business_days();
CREATE TRIGGER refunds_count_on_business_days AFTER INSERT ON refunds
    REFERENCING NEW TABLE AS new_refunds FOR EACH STATEMENT EXECUTE FUNCTION icash_count_business_day_refunds();
CREATE TRIGGER purchase_voids_uncount_on_business_days AFTER INSERT ON purchase_voids
    REFERENCING NEW TABLE AS new_voids FOR EACH STATEMENT EXECUTE FUNCTION icash_uncount_business_day_voids();

-- Rebuilds the business days of a branch (of every branch when NULL) as its settings reckon them
-- now, into shard 0, and the chain's from every branch's: for a change of its zone or start of
-- day, and at the end of a bulk load.
--
-- It reads the UTC hourly aggregates, and only the purchases of the hours in which a business
-- day starts (one an hour a day in Asia/Kolkata, none where days start on a whole UTC hour): an
-- hour whose first and last instants fall on the same business date lies whole in it. The
-- refunds are read one by one, through their branch index. The caller keeps purchases, refunds
-- and voids out meanwhile (their triggers reckon with the settings they read).
CREATE FUNCTION icash_rebuild_business_days(branch integer) RETURNS void
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
        FROM product_hours u JOIN settings s ON s.id = u.branch_id
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

-- The business days of the purchases already recorded.
SELECT icash_rebuild_business_days(NULL);
