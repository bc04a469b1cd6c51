-- What each customer spent over any period, beside their purchase counts: the loyal list orders
-- customers with as many purchases by what they spent, and a page deep in a long run of them
-- (the tenth page of a week, a day's customers with one purchase) would otherwise read the
-- purchases of every customer of the run (see icash-postgres/src/customer_sets/counts.rs and
-- docs/design.md, "Distinct customers over a period").

-- Each purchase's total in cents travels with its pending row, so that the rollup folds it
-- without reading the purchase again.
ALTER TABLE customer_set_pending ADD COLUMN cents bigint;
UPDATE customer_set_pending q SET cents = (p.total * 100)::bigint
FROM purchases p WHERE p.id = q.purchase_id;
ALTER TABLE customer_set_pending ALTER COLUMN cents SET NOT NULL;

-- A bit-sliced index of each member's cents, in the format of `counts` (`Counts::encode`).
-- Compressed already, like the set.
ALTER TABLE customer_sets ADD COLUMN spent bytea NOT NULL DEFAULT '';
ALTER TABLE customer_sets ALTER COLUMN spent DROP DEFAULT;
ALTER TABLE customer_sets ALTER COLUMN spent SET STORAGE EXTERNAL;

-- The sets kept so far have no cents: the rollup builds them again.
INSERT INTO customer_sets_rebuild SELECT WHERE EXISTS (SELECT 1 FROM purchases)
ON CONFLICT DO NOTHING;

-- As in the customer_counts migration, with the purchase's cents.
CREATE OR REPLACE FUNCTION icash_pend_customer_sets() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The customer's row is there: the statement that inserts a purchase inserts its customer
    -- first, and the aggregates' trigger has just updated it.
    INSERT INTO customer_set_pending (purchase_id, branch_id, purchased_at, customer_number, cents)
    SELECT p.id, p.branch_id, p.purchased_at, (SELECT c.number FROM customers c WHERE c.id = p.customer_id),
           (p.total * 100)::bigint
    FROM new_purchases p;
    RETURN NULL;
END;
$$;

-- As in the customer_set_versions migration, with each tail customer's cents there
-- (`tail_spent`, beside `tail_purchases`), and the pending rows of the edges left to the edges'
-- own read (they were counted twice there: harmless for the distinct count, not for the counts).
DROP FUNCTION icash_customer_set_versions(integer, timestamptz, timestamptz, timestamptz[]);
CREATE FUNCTION icash_customer_set_versions(branch integer, lo timestamptz, hi timestamptz, spans timestamptz[])
RETURNS TABLE (set_spans integer[], set_versions bigint[], tail_numbers integer[], tail_purchases bigint[],
               tail_spent bigint[], sets_rebuilding boolean)
LANGUAGE plpgsql STABLE
SET max_parallel_workers_per_gather = 0
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    ids integer[] := icash_branch_ids(branch);
    b integer := coalesce(branch, 0);
    s timestamptz[] := array(SELECT coalesce(x, CASE WHEN i % 2 = 1 THEN '-infinity'::timestamptz ELSE 'infinity' END)
                             FROM unnest(spans) WITH ORDINALITY AS t (x, i));
BEGIN
    RETURN QUERY
    SELECT coalesce(array_agg(r.span) FILTER (WHERE r.span IS NOT NULL), '{}'),
           coalesce(array_agg(r.version) FILTER (WHERE r.span IS NOT NULL), '{}'),
           coalesce(array_agg(r.customer_number) FILTER (WHERE r.span IS NULL), '{}'),
           coalesce(array_agg(r.purchases) FILTER (WHERE r.span IS NULL), '{}'),
           coalesce(array_agg(r.cents) FILTER (WHERE r.span IS NULL), '{}'),
           EXISTS (SELECT 1 FROM customer_sets_rebuild)
    FROM (
        SELECT 1 AS span, c.version, NULL::integer AS customer_number, NULL::bigint AS purchases,
               NULL::bigint AS cents
        FROM customer_sets c
        WHERE c.branch_id = b AND c.unit = 'hour' AND c.starts >= s[5] AND c.starts < s[6]
        UNION ALL
        SELECT 2, c.version, NULL, NULL, NULL FROM customer_sets c
        WHERE c.branch_id = b AND c.unit = 'hour' AND c.starts >= s[7] AND c.starts < s[8]
        UNION ALL
        SELECT 3, c.version, NULL, NULL, NULL FROM customer_sets c
        WHERE c.branch_id = b AND c.unit = 'day' AND c.starts >= s[9] AND c.starts < s[10]
        UNION ALL
        SELECT 4, c.version, NULL, NULL, NULL FROM customer_sets c
        WHERE c.branch_id = b AND c.unit = 'day' AND c.starts >= s[11] AND c.starts < s[12]
        UNION ALL
        SELECT 5, c.version, NULL, NULL, NULL FROM customer_sets c
        WHERE c.branch_id = b AND c.unit = 'month' AND c.starts >= s[13] AND c.starts < s[14]
        UNION ALL
        SELECT NULL, NULL, n.number, e.purchases, e.cents
        FROM (
            SELECT p.customer_id, sum(p.n)::bigint AS purchases, sum(p.n * p.total * 100)::bigint AS cents
            FROM (
                SELECT p.customer_id, p.total, 1 AS n FROM purchases p
                WHERE p.branch_id = ANY (ids) AND p.purchased_at >= s[1] AND p.purchased_at < s[2]
                UNION ALL
                SELECT p.customer_id, p.total, 1 FROM purchases p
                WHERE p.branch_id = ANY (ids) AND p.purchased_at >= s[3] AND p.purchased_at < s[4]
                UNION ALL
                SELECT v.customer_id, v.total, -1 FROM purchase_voids v
                WHERE v.branch_id = ANY (ids) AND v.purchased_at >= s[1] AND v.purchased_at < s[2]
                UNION ALL
                SELECT v.customer_id, v.total, -1 FROM purchase_voids v
                WHERE v.branch_id = ANY (ids) AND v.purchased_at >= s[3] AND v.purchased_at < s[4]
            ) AS p
            GROUP BY p.customer_id
            HAVING sum(p.n) > 0
        ) AS e
        JOIN customers n ON n.id = e.customer_id
        UNION ALL
        SELECT NULL, NULL, q.customer_number, 1, q.cents
        FROM customer_set_pending q
        WHERE q.branch_id = ANY (ids)
          AND q.purchased_at >= coalesce(lo, '-infinity') AND q.purchased_at < coalesce(hi, 'infinity')
          -- The edges are read from the purchases, pending or not: a pending row there would
          -- count its purchase twice.
          AND NOT coalesce(q.purchased_at >= s[1] AND q.purchased_at < s[2], false)
          AND NOT coalesce(q.purchased_at >= s[3] AND q.purchased_at < s[4], false)
          AND NOT EXISTS (SELECT 1 FROM purchase_voids v WHERE v.purchase_id = q.purchase_id)
    ) AS r;
END;
$$;
