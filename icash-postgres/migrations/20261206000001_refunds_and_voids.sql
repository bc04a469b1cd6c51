-- Refunds and voids: what happens to a sale after it was made.
--
-- A refund is a record of its own (refunds, and refund_lines pointing at the purchase's lines,
-- at the prices they were sold at); a void is the purchase's status, kept in purchase_voids,
-- one row per voided purchase, with who, when and why. Purchases and their lines stay
-- immutable, so the purchases' index-only scans stay as they are.
--
-- Every aggregate moves by deltas in the transaction of the refund or the void, from triggers
-- like the purchases' own (the aggregates migration): a void takes its purchase out of every
-- aggregate, a refund adds to the refunds' own. Every figure stays a recomputation of the
-- records. A period's edges, and the distinct and loyal customers over a period, subtract the
-- voided purchases' copies kept in purchase_voids, read through an index like the purchases'.
--
-- Nothing is refunded twice: a refund line's key is the purchase line's, so a second refund of
-- a line fails on the key even when two requests race. A refund and a void of one purchase
-- take turns on a lock of the purchase's row, and each checks the other's absence under it.

-- A voided purchase: who voided it, when and why, and copies of the purchase's branch,
-- customer, instant and total, so that the scans that skip voided purchases subtract them by an
-- index-only scan, as they read the purchases.
CREATE TABLE purchase_voids (
    purchase_id bigint PRIMARY KEY,
    voided_at timestamptz NOT NULL,
    -- The name of the key that voided it; NULL without authentication.
    voided_by text,
    reason text NOT NULL,
    branch_id integer NOT NULL,
    customer_id uuid NOT NULL,
    purchased_at timestamptz NOT NULL,
    total numeric(12, 2) NOT NULL,
    CONSTRAINT purchase_voids_purchase_fkey FOREIGN KEY (purchase_id) REFERENCES purchases (id),
    CONSTRAINT purchase_voids_reason_not_blank CHECK (btrim(reason) <> '')
);
CREATE INDEX purchase_voids_branch_customer_idx ON purchase_voids (branch_id, purchased_at) INCLUDE (customer_id, total);

-- A refund of some of a purchase's lines. The purchase's branch is copied, so that a
-- branch's refunds over a period are one range of the index below.
CREATE TABLE refunds (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    purchase_id bigint NOT NULL,
    branch_id integer NOT NULL,
    refunded_at timestamptz NOT NULL,
    -- The name of the key that made it; NULL without authentication.
    refunded_by text,
    amount numeric(12, 2) NOT NULL,
    CONSTRAINT refunds_purchase_fkey FOREIGN KEY (purchase_id) REFERENCES purchases (id),
    CONSTRAINT refunds_amount_not_negative CHECK (amount >= 0)
);
CREATE INDEX refunds_purchase_idx ON refunds (purchase_id);
CREATE INDEX refunds_branch_refunded_at_idx ON refunds (branch_id, refunded_at) INCLUDE (amount);

-- One line of a purchase, refunded. Its key is the purchase line's: a line is refunded once.
CREATE TABLE refund_lines (
    purchase_id bigint NOT NULL,
    product_id integer NOT NULL,
    refund_id bigint NOT NULL,
    -- The line's place on the refund, in the purchase's order.
    position smallint NOT NULL,
    unit_price numeric(10, 2) NOT NULL,
    CONSTRAINT refund_lines_pkey PRIMARY KEY (purchase_id, product_id),
    CONSTRAINT refund_lines_line_fkey FOREIGN KEY (purchase_id, product_id) REFERENCES purchase_lines (purchase_id, product_id),
    CONSTRAINT refund_lines_refund_fkey FOREIGN KEY (refund_id) REFERENCES refunds (id)
);

-- Idempotency keys of refunds, as the purchases' (the idempotency migration): claimed in the
-- refund's transaction, scoped to the key that sent them.
CREATE TABLE refund_idempotency_keys (
    scope text NOT NULL,
    key text NOT NULL,
    fingerprint text NOT NULL,
    refund_id bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT refund_idempotency_keys_pkey PRIMARY KEY (scope, key),
    CONSTRAINT refund_idempotency_keys_refund_fkey FOREIGN KEY (refund_id) REFERENCES refunds (id),
    CONSTRAINT refund_idempotency_keys_key_length CHECK (length(key) BETWEEN 1 AND 255)
);
CREATE INDEX refund_idempotency_keys_created_at_idx ON refund_idempotency_keys (created_at);

-- Refunds per branch and units returned per product and branch, over the whole history, sharded
-- as the sales' totals. A period reads the refunds themselves, through their branch index:
-- refunds are few beside purchases.
CREATE TABLE branch_refunds (
    branch_id integer NOT NULL,
    shard smallint NOT NULL,
    refunds bigint NOT NULL,
    amount numeric(16, 2) NOT NULL,
    PRIMARY KEY (branch_id, shard)
);
CREATE TABLE product_returns (
    product_id integer NOT NULL,
    branch_id integer NOT NULL,
    shard smallint NOT NULL,
    units bigint NOT NULL,
    PRIMARY KEY (product_id, branch_id, shard)
);

CREATE FUNCTION icash_count_refunds() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO branch_refunds (branch_id, shard, refunds, amount)
    SELECT branch_id, icash_shard(id), count(*), sum(amount) FROM new_refunds
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (branch_id, shard) DO UPDATE
        SET refunds = branch_refunds.refunds + excluded.refunds, amount = branch_refunds.amount + excluded.amount;
    RETURN NULL;
END;
$$;

CREATE FUNCTION icash_count_returns() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO product_returns (product_id, branch_id, shard, units)
    SELECT l.product_id, r.branch_id, icash_shard(l.refund_id), count(*)
    FROM new_refund_lines l JOIN refunds r ON r.id = l.refund_id
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (product_id, branch_id, shard) DO UPDATE SET units = product_returns.units + excluded.units;
    RETURN NULL;
END;
$$;

-- The voided purchases, taken out of every aggregate the purchases' triggers keep.
--
-- A customer's first and last purchase are found again only when a voided purchase was one of
-- them, from the customer's purchases not voided; that reads the purchases' branch index
-- whole (the purchases have no index by customer, which every purchase would pay for), once
-- per void of a customer's first or last purchase.
CREATE FUNCTION icash_uncount_voids() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH removed AS (
        SELECT v.customer_id, count(*) AS purchases, sum(v.total) AS spent,
               bool_or(v.purchased_at IN (c.first_purchase, c.last_purchase)) AS at_an_end
        FROM new_voids v JOIN customers c ON c.id = v.customer_id
        GROUP BY v.customer_id
    ),
    moved AS (
        UPDATE customers c
        SET purchases = c.purchases - r.purchases,
            spent = c.spent - r.spent,
            first_purchase = CASE
                WHEN c.purchases = r.purchases THEN NULL
                WHEN NOT r.at_an_end THEN c.first_purchase
                ELSE (SELECT min(p.purchased_at) FROM purchases p
                      WHERE p.customer_id = c.id
                        AND NOT EXISTS (SELECT 1 FROM purchase_voids x WHERE x.purchase_id = p.id))
            END,
            last_purchase = CASE
                WHEN c.purchases = r.purchases THEN NULL
                WHEN NOT r.at_an_end THEN c.last_purchase
                ELSE (SELECT max(p.purchased_at) FROM purchases p
                      WHERE p.customer_id = c.id
                        AND NOT EXISTS (SELECT 1 FROM purchase_voids x WHERE x.purchase_id = p.id))
            END
        FROM removed r
        WHERE c.id = r.customer_id
        RETURNING c.id, c.purchases + r.purchases AS before, c.purchases AS after
    ),
    changes AS (
        SELECT before AS purchases, (hashtext(id::text) & 15)::smallint AS shard, -1 AS delta FROM moved
        UNION ALL
        SELECT after, (hashtext(id::text) & 15)::smallint, 1 FROM moved WHERE after > 0
    )
    INSERT INTO customer_histogram (purchases, shard, customers)
    SELECT purchases, shard, sum(delta) FROM changes GROUP BY purchases, shard ORDER BY purchases, shard
    ON CONFLICT (purchases, shard) DO UPDATE SET customers = customer_histogram.customers + excluded.customers;

    -- A pair left without purchases goes: its customer no longer bought at the branch.
    UPDATE customer_branches cb SET purchases = cb.purchases - p.purchases
    FROM (SELECT branch_id, customer_id, count(*) AS purchases FROM new_voids GROUP BY 1, 2) p
    WHERE cb.branch_id = p.branch_id AND cb.customer_id = p.customer_id;
    WITH gone AS (
        DELETE FROM customer_branches cb
        USING (SELECT DISTINCT branch_id, customer_id FROM new_voids) v
        WHERE cb.branch_id = v.branch_id AND cb.customer_id = v.customer_id AND cb.purchases = 0
        RETURNING cb.branch_id, cb.customer_id
    )
    INSERT INTO branch_customers (branch_id, shard, customers)
    SELECT branch_id, (hashtext(customer_id::text) & 15)::smallint, -count(*) FROM gone
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (branch_id, shard) DO UPDATE SET customers = branch_customers.customers + excluded.customers;

    INSERT INTO branch_totals (branch_id, shard, purchases, revenue)
    SELECT branch_id, icash_shard(purchase_id), -count(*), -sum(total) FROM new_voids
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (branch_id, shard) DO UPDATE
        SET purchases = branch_totals.purchases + excluded.purchases, revenue = branch_totals.revenue + excluded.revenue;
    INSERT INTO branch_months (branch_id, month, shard, purchases, revenue)
    SELECT branch_id, icash_month(icash_day(purchased_at)), icash_shard(purchase_id), -count(*), -sum(total) FROM new_voids
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (branch_id, month, shard) DO UPDATE
        SET purchases = branch_months.purchases + excluded.purchases, revenue = branch_months.revenue + excluded.revenue;
    INSERT INTO branch_days (branch_id, day, shard, purchases, revenue)
    SELECT branch_id, icash_day(purchased_at), icash_shard(purchase_id), -count(*), -sum(total) FROM new_voids
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (branch_id, day, shard) DO UPDATE
        SET purchases = branch_days.purchases + excluded.purchases, revenue = branch_days.revenue + excluded.revenue;
    INSERT INTO branch_hours (branch_id, hour, shard, purchases, revenue)
    SELECT branch_id, icash_hour(purchased_at), icash_shard(purchase_id), -count(*), -sum(total) FROM new_voids
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (branch_id, hour, shard) DO UPDATE
        SET purchases = branch_hours.purchases + excluded.purchases, revenue = branch_hours.revenue + excluded.revenue;

    WITH hours AS MATERIALIZED (
        SELECT l.product_id, v.branch_id, icash_hour(v.purchased_at) AS hour,
               icash_shard(v.purchase_id) AS shard, -count(*) AS units
        FROM new_voids v JOIN purchase_lines l ON l.purchase_id = v.purchase_id
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

CREATE TRIGGER refunds_count AFTER INSERT ON refunds
    REFERENCING NEW TABLE AS new_refunds FOR EACH STATEMENT EXECUTE FUNCTION icash_count_refunds();
CREATE TRIGGER refund_lines_count AFTER INSERT ON refund_lines
    REFERENCING NEW TABLE AS new_refund_lines FOR EACH STATEMENT EXECUTE FUNCTION icash_count_returns();
CREATE TRIGGER purchase_voids_uncount AFTER INSERT ON purchase_voids
    REFERENCING NEW TABLE AS new_voids FOR EACH STATEMENT EXECUTE FUNCTION icash_uncount_voids();

-- Refunds and voids are never updated or deleted either: the aggregates are their sums.
CREATE TRIGGER refunds_immutable BEFORE UPDATE OR DELETE OR TRUNCATE ON refunds
    FOR EACH STATEMENT EXECUTE FUNCTION icash_refuse_change();
CREATE TRIGGER refund_lines_immutable BEFORE UPDATE OR DELETE OR TRUNCATE ON refund_lines
    FOR EACH STATEMENT EXECUTE FUNCTION icash_refuse_change();
CREATE TRIGGER purchase_voids_immutable BEFORE UPDATE OR DELETE OR TRUNCATE ON purchase_voids
    FOR EACH STATEMENT EXECUTE FUNCTION icash_refuse_change();

-- The period functions of the period functions migration, whose edges now subtract the voided
-- purchases (and their lines) they read, in arms of their own beside the purchases', with the
-- same settings.
CREATE OR REPLACE FUNCTION icash_branch_sales(branch integer, lo timestamptz, hi timestamptz)
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

CREATE OR REPLACE FUNCTION icash_product_units(branch integer, lo timestamptz, hi timestamptz)
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
        GROUP BY t.product_id
        HAVING sum(t.units) <> 0;
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

-- Refunds per branch in [lo, hi) by their own instant, for one branch or all (NULL): the whole
-- history from the totals, a period from the refunds' branch index.
CREATE FUNCTION icash_branch_refunds(branch integer, lo timestamptz, hi timestamptz)
RETURNS TABLE (branch_id integer, refunds bigint, amount numeric)
LANGUAGE plpgsql STABLE
SET max_parallel_workers_per_gather = 0 AS $$
BEGIN
    IF lo IS NULL AND hi IS NULL THEN
        RETURN QUERY
        SELECT t.branch_id, sum(t.refunds)::bigint, sum(t.amount)
        FROM branch_refunds t WHERE branch IS NULL OR t.branch_id = branch
        GROUP BY t.branch_id
        HAVING sum(t.refunds) <> 0;
        RETURN;
    END IF;
    RETURN QUERY
    SELECT r.branch_id, count(*), sum(r.amount)
    FROM refunds r
    WHERE r.branch_id = ANY (icash_branch_ids(branch))
      AND r.refunded_at >= coalesce(lo, '-infinity') AND r.refunded_at < coalesce(hi, 'infinity')
    GROUP BY r.branch_id;
END;
$$;

-- Units returned per product in [lo, hi) by the refunds' instant, at one branch or all (NULL),
-- read as icash_branch_refunds reads refunds.
CREATE FUNCTION icash_product_returns(branch integer, lo timestamptz, hi timestamptz)
RETURNS TABLE (product_id integer, units bigint)
LANGUAGE plpgsql STABLE
SET max_parallel_workers_per_gather = 0 AS $$
BEGIN
    IF lo IS NULL AND hi IS NULL THEN
        RETURN QUERY
        SELECT t.product_id, sum(t.units)::bigint
        FROM product_returns t WHERE branch IS NULL OR t.branch_id = branch
        GROUP BY t.product_id
        HAVING sum(t.units) <> 0;
        RETURN;
    END IF;
    RETURN QUERY
    SELECT l.product_id, count(*)
    FROM refunds r JOIN refund_lines l ON l.purchase_id = r.purchase_id AND l.refund_id = r.id
    WHERE r.branch_id = ANY (icash_branch_ids(branch))
      AND r.refunded_at >= coalesce(lo, '-infinity') AND r.refunded_at < coalesce(hi, 'infinity')
    GROUP BY l.product_id;
END;
$$;
