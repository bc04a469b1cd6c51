-- Every content a customer set row takes has a number of its own, so that a server can keep what
-- it made of the rows it read (decoded, unioned, added up) and learn from one small statement
-- whether that still holds (see icash-postgres/src/customer_sets/sums.rs).
--
-- A version is never given twice: the rollup, a void and a rebuild each write a new one with
-- the row they write, and a row deleted and written again gets a new one too.
CREATE SEQUENCE customer_set_versions;
ALTER TABLE customer_sets ADD COLUMN version bigint NOT NULL DEFAULT nextval('customer_set_versions');

-- What a period's distinct customers are made of, at one branch or every branch (NULL), in one
-- row: the versions of the sets of the period's cover, not their contents (`spans` as `Cover`
-- lays them out: the two edges, the hours before and after the whole days, the days before and
-- after the whole months, the months), each with its place in the cover (`set_spans`: 1 and 2
-- the hours, 3 and 4 the days, 5 the months); the customers of the edges with their purchases
-- there and the pending purchases' customers (`tail_numbers`, `tail_purchases`); and whether the
-- sets are being built again. STABLE, so it reads the snapshot of the statement that calls it:
-- a statement that reads other figures beside it reads them with the same purchases.
DROP FUNCTION icash_customer_sets_of(integer, timestamptz, timestamptz, timestamptz[], boolean);
CREATE FUNCTION icash_customer_set_versions(branch integer, lo timestamptz, hi timestamptz, spans timestamptz[])
RETURNS TABLE (set_spans integer[], set_versions bigint[], tail_numbers integer[], tail_purchases bigint[],
               sets_rebuilding boolean)
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
           EXISTS (SELECT 1 FROM customer_sets_rebuild)
    FROM (
        SELECT 1 AS span, c.version, NULL::integer AS customer_number, NULL::bigint AS purchases
        FROM customer_sets c
        WHERE c.branch_id = b AND c.unit = 'hour' AND c.starts >= s[5] AND c.starts < s[6]
        UNION ALL
        SELECT 2, c.version, NULL, NULL FROM customer_sets c
        WHERE c.branch_id = b AND c.unit = 'hour' AND c.starts >= s[7] AND c.starts < s[8]
        UNION ALL
        SELECT 3, c.version, NULL, NULL FROM customer_sets c
        WHERE c.branch_id = b AND c.unit = 'day' AND c.starts >= s[9] AND c.starts < s[10]
        UNION ALL
        SELECT 4, c.version, NULL, NULL FROM customer_sets c
        WHERE c.branch_id = b AND c.unit = 'day' AND c.starts >= s[11] AND c.starts < s[12]
        UNION ALL
        SELECT 5, c.version, NULL, NULL FROM customer_sets c
        WHERE c.branch_id = b AND c.unit = 'month' AND c.starts >= s[13] AND c.starts < s[14]
        UNION ALL
        SELECT NULL, NULL, n.number, e.purchases
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
        SELECT NULL, NULL, q.customer_number, 1
        FROM customer_set_pending q
        WHERE q.branch_id = ANY (ids)
          AND q.purchased_at >= coalesce(lo, '-infinity') AND q.purchased_at < coalesce(hi, 'infinity')
          AND NOT EXISTS (SELECT 1 FROM purchase_voids v WHERE v.purchase_id = q.purchase_id)
    ) AS r;
END;
$$;
