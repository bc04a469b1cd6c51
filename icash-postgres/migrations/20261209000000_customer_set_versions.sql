-- Every content a customer set row takes has a number of its own, so that a server can keep what
-- it made of the rows it read (decoded, unioned, added up) and learn from one small statement
-- whether that still holds (see icash-postgres/src/customer_sets/sums.rs).
--
-- A version is never given twice: the rollup, a void and a rebuild each write a new one with
-- the row they write, and a row deleted and written again gets a new one too.
CREATE SEQUENCE customer_set_versions;
ALTER TABLE customer_sets ADD COLUMN version bigint NOT NULL DEFAULT nextval('customer_set_versions');

-- What a period's distinct customers are made of, at one branch or every branch (NULL): for each
-- set of the period's cover (`spans` as `Cover` lays them out: the two edges, the hours before and
-- after the whole days, the days before and after the whole months, the months) its place in the
-- cover (`span`: 1 and 2 the hours, 3 and 4 the days, 5 the months) and its version, not its
-- contents; then each customer of the edges with their purchases there, each pending purchase's
-- customer, and a row marked `rebuilding` while the sets are being built again. One statement,
-- so one snapshot: the versions and the tail belong together.
DROP FUNCTION icash_customer_sets_of(integer, timestamptz, timestamptz, timestamptz[], boolean);
CREATE FUNCTION icash_customer_set_versions(branch integer, lo timestamptz, hi timestamptz, spans timestamptz[])
RETURNS TABLE (span integer, version bigint, customer_number integer, purchases bigint, rebuilding boolean)
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
    SELECT 1, c.version, NULL::integer, NULL::bigint, false FROM customer_sets c
    WHERE c.branch_id = b AND c.unit = 'hour' AND c.starts >= s[5] AND c.starts < s[6]
    UNION ALL
    SELECT 2, c.version, NULL, NULL, false FROM customer_sets c
    WHERE c.branch_id = b AND c.unit = 'hour' AND c.starts >= s[7] AND c.starts < s[8]
    UNION ALL
    SELECT 3, c.version, NULL, NULL, false FROM customer_sets c
    WHERE c.branch_id = b AND c.unit = 'day' AND c.starts >= s[9] AND c.starts < s[10]
    UNION ALL
    SELECT 4, c.version, NULL, NULL, false FROM customer_sets c
    WHERE c.branch_id = b AND c.unit = 'day' AND c.starts >= s[11] AND c.starts < s[12]
    UNION ALL
    SELECT 5, c.version, NULL, NULL, false FROM customer_sets c
    WHERE c.branch_id = b AND c.unit = 'month' AND c.starts >= s[13] AND c.starts < s[14]
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
