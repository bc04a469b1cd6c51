-- The loyal customers over any period: beside each set of customers, how many purchases each of
-- them made there (see icash-postgres/src/customer_sets/counts.rs and docs/design.md, "Distinct
-- customers over a period"), and the indexes that read one customer's purchases.
--
-- Counts, unlike sets, must take each purchase exactly once: the rollup folds a pending row and
-- deletes it in one transaction, a void of a purchase still pending deletes its row instead of
-- touching the counts, and a rebuild leaves the purchases still pending to the rollup.

-- A bit-sliced index of purchase counts over the set's customer numbers, in the server's format
-- (`Counts::encode`). Compressed already, like the set.
ALTER TABLE customer_sets ADD COLUMN counts bytea NOT NULL DEFAULT '';
ALTER TABLE customer_sets ALTER COLUMN counts DROP DEFAULT;
ALTER TABLE customer_sets ALTER COLUMN counts SET STORAGE EXTERNAL;

-- The sets kept so far have no counts: the rollup builds them again.
INSERT INTO customer_sets_rebuild SELECT WHERE EXISTS (SELECT 1 FROM purchases)
ON CONFLICT DO NOTHING;

-- Each purchase's customer number by a lookup of the customers' key. PL/pgSQL keeps a
-- session's plan for a statement until something invalidates it: a join planned while the
-- trigger held a batch of a thousand purchases hashed the whole customers table, and the
-- session's later single purchases each scanned it again (seen after offline batches, at 1M
-- purchases). A lookup by key cannot take that plan, whatever the call it is made for.
CREATE OR REPLACE FUNCTION icash_pend_customer_sets() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The customer's row is there: the statement that inserts a purchase inserts its customer
    -- first, and the aggregates' trigger has just updated it.
    INSERT INTO customer_set_pending (purchase_id, branch_id, purchased_at, customer_number)
    SELECT p.id, p.branch_id, p.purchased_at, (SELECT c.number FROM customers c WHERE c.id = p.customer_id)
    FROM new_purchases p;
    RETURN NULL;
END;
$$;

-- A void finds its pending row, if any, by purchase.
CREATE INDEX customer_set_pending_purchase_idx ON customer_set_pending (purchase_id);

-- The loyal page reads the purchases of the few customers the counts rank first, by number,
-- and their voids (few) apart. The index by customer also serves a void of a customer's first or
-- last purchase, which looks for their new first or last.
CREATE INDEX customers_number_idx ON customers (number);
CREATE INDEX purchases_customer_idx ON purchases (customer_id, purchased_at) INCLUDE (branch_id, total);
CREATE INDEX purchase_voids_customer_idx ON purchase_voids (customer_id, purchased_at) INCLUDE (branch_id);

-- As in the customer_sets migration, and with `counts`: when `counted`, each set's counts
-- instead of the set itself, and each customer of the edges and of the pending rows with their
-- number of purchases there (`purchases`) rather than once.
DROP FUNCTION icash_customer_sets_of(integer, timestamptz, timestamptz, timestamptz[]);
CREATE FUNCTION icash_customer_sets_of(branch integer, lo timestamptz, hi timestamptz, spans timestamptz[], counted boolean)
RETURNS TABLE (customers bytea, counts bytea, customer_number integer, purchases bigint, rebuilding boolean)
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
    -- Each column read only when asked for: the other is left in its TOAST table.
    SELECT CASE WHEN counted THEN NULL ELSE c.customers END, CASE WHEN counted THEN c.counts END,
           NULL::integer, NULL::bigint, false
    FROM (
        SELECT c.customers, c.counts FROM customer_sets c
        WHERE c.branch_id = b AND c.unit = 'hour' AND c.starts >= s[5] AND c.starts < s[6]
        UNION ALL
        SELECT c.customers, c.counts FROM customer_sets c
        WHERE c.branch_id = b AND c.unit = 'hour' AND c.starts >= s[7] AND c.starts < s[8]
        UNION ALL
        SELECT c.customers, c.counts FROM customer_sets c
        WHERE c.branch_id = b AND c.unit = 'day' AND c.starts >= s[9] AND c.starts < s[10]
        UNION ALL
        SELECT c.customers, c.counts FROM customer_sets c
        WHERE c.branch_id = b AND c.unit = 'day' AND c.starts >= s[11] AND c.starts < s[12]
        UNION ALL
        SELECT c.customers, c.counts FROM customer_sets c
        WHERE c.branch_id = b AND c.unit = 'month' AND c.starts >= s[13] AND c.starts < s[14]
    ) AS c
    UNION ALL
    SELECT NULL, NULL, n.number, e.purchases, false
    FROM (
        SELECT p.customer_id, sum(p.n)::bigint AS purchases
        FROM (
            SELECT p.customer_id, 1 AS n FROM purchases p
            WHERE p.branch_id = ANY (ids) AND p.purchased_at >= s[1] AND p.purchased_at < s[2]
            UNION ALL
            SELECT p.customer_id, 1 FROM purchases p
            WHERE p.branch_id = ANY (ids) AND p.purchased_at >= s[3] AND p.purchased_at < s[4]
            UNION ALL
            SELECT v.customer_id, -1 FROM purchase_voids v
            WHERE v.branch_id = ANY (ids) AND v.purchased_at >= s[1] AND v.purchased_at < s[2]
            UNION ALL
            SELECT v.customer_id, -1 FROM purchase_voids v
            WHERE v.branch_id = ANY (ids) AND v.purchased_at >= s[3] AND v.purchased_at < s[4]
        ) AS p
        GROUP BY p.customer_id
        HAVING sum(p.n) > 0
    ) AS e
    JOIN customers n ON n.id = e.customer_id
    UNION ALL
    SELECT NULL, NULL, q.customer_number, 1, false
    FROM customer_set_pending q
    WHERE q.branch_id = ANY (ids)
      AND q.purchased_at >= coalesce(lo, '-infinity') AND q.purchased_at < coalesce(hi, 'infinity')
      AND NOT EXISTS (SELECT 1 FROM purchase_voids v WHERE v.purchase_id = q.purchase_id)
    UNION ALL
    SELECT NULL, NULL, NULL, NULL, true FROM customer_sets_rebuild;
END;
$$;
