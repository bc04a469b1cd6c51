-- Bulk loads take the customers' counters from the loader instead of aggregating the loaded
-- purchases: the loader sums each customer (purchases, spending, first and last purchase) and
-- each (branch, customer) pair as it encodes the batches, and COPYs the sums into two staging
-- tables. At 10 million purchases the two aggregations (950,000 customers, 2.1 million pairs)
-- were 18 of the load's 70 seconds; copying the sums in takes about two.
--
-- The loader's memory is bounded: past its limit it hands partial sums over and starts again,
-- so a customer may have several staged rows, which the finish adds up (as it does with
-- customers already in the store, who can only be customers without purchases, the store having
-- none). Otherwise each staged row is a whole customer, and goes in as it is.
--
-- The finish is also told the last purchase id, instead of reading max(id) over the purchases.

-- As in the bulk_load_staging migration, with the customers' key set aside too (their rows are
-- now inserted, not upserted) and the two staging tables of the customers' sums.
CREATE OR REPLACE FUNCTION icash_bulk_load_begin() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    item record;
    keyed regclass[] := ARRAY['purchases', 'purchase_lines', 'customers', 'customer_branches',
        'branch_hours', 'product_hours', 'branch_days', 'product_days']::regclass[];
BEGIN
    CREATE TEMP TABLE icash_set_aside (
        -- Restored in this order: keys (1), other indexes (2), then the foreign keys (3) that
        -- need the keys.
        kind smallint NOT NULL,
        restore text NOT NULL
    ) ON COMMIT DROP;
    -- Sums of the loaded purchases per branch (or product and branch) and some instant of each
    -- hour: several rows may fall in one hour, icash_bulk_load_finish adds them up.
    CREATE TEMP TABLE icash_load_branch_hours (
        branch_id integer NOT NULL,
        hour timestamptz NOT NULL,
        purchases bigint NOT NULL,
        revenue numeric NOT NULL
    ) ON COMMIT DROP;
    CREATE TEMP TABLE icash_load_product_hours (
        product_id integer NOT NULL,
        branch_id integer NOT NULL,
        hour timestamptz NOT NULL,
        units bigint NOT NULL
    ) ON COMMIT DROP;
    -- The loaded purchases' sums per customer, and per branch and customer. The first and last
    -- purchases are nullable like the customers' own: customers already in the store are added
    -- in too.
    CREATE TEMP TABLE icash_load_customers (
        id uuid NOT NULL,
        purchases bigint NOT NULL,
        spent numeric NOT NULL,
        first_purchase timestamptz,
        last_purchase timestamptz
    ) ON COMMIT DROP;
    CREATE TEMP TABLE icash_load_customer_branches (
        branch_id integer NOT NULL,
        customer_id uuid NOT NULL,
        purchases bigint NOT NULL
    ) ON COMMIT DROP;
    FOR item IN
        SELECT c.conrelid::regclass AS tab, c.conname, c.contype, pg_get_constraintdef(c.oid) AS def
        FROM pg_constraint c
        WHERE (c.contype = 'f' AND (c.conrelid = ANY (keyed) OR c.confrelid = ANY (keyed)))
           OR (c.contype IN ('p', 'u') AND c.conrelid = ANY (keyed))
        -- Foreign keys first: they depend on the keys they reference.
        ORDER BY c.contype = 'f' DESC, c.conname
    LOOP
        -- A foreign key comes back NOT VALID: see the bulk_load_staging migration.
        INSERT INTO icash_set_aside
        VALUES (CASE WHEN item.contype = 'f' THEN 3 ELSE 1 END,
                format('ALTER TABLE %s ADD CONSTRAINT %I %s%s', item.tab, item.conname, item.def,
                       CASE WHEN item.contype = 'f' THEN ' NOT VALID' ELSE '' END));
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', item.tab, item.conname);
    END LOOP;
    FOR item IN
        SELECT i.indexrelid::regclass AS idx, pg_get_indexdef(i.indexrelid) AS def
        FROM pg_index i
        WHERE i.indrelid = ANY (keyed) AND NOT i.indisunique
        ORDER BY 1
    LOOP
        INSERT INTO icash_set_aside VALUES (2, item.def);
        EXECUTE format('DROP INDEX %s', item.idx);
    END LOOP;
    -- Every trigger of ours (the aggregates' and the immutability guards; not the foreign keys'
    -- internal ones): nobody else can write until the load commits.
    ALTER TABLE purchases DISABLE TRIGGER USER;
    ALTER TABLE purchase_lines DISABLE TRIGGER USER;
    RETURN nextval(pg_get_serial_sequence('purchases', 'id'));
END;
$$;

-- The customers, their histogram, and which customers bought at each branch, from the staged
-- sums. `partial_sums`: the loader handed sums over more than once, so a customer may have
-- several staged rows.
CREATE FUNCTION icash_customers_from_sums(partial_sums boolean) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM customers) THEN
        INSERT INTO icash_load_customers
        SELECT id, purchases, spent, first_purchase, last_purchase FROM customers;
        TRUNCATE customers;
        partial_sums := true;
    END IF;
    TRUNCATE customer_histogram, customer_branches, branch_customers;
    IF partial_sums THEN
        INSERT INTO customers (id, purchases, spent, first_purchase, last_purchase)
        SELECT id, sum(purchases), sum(spent), min(first_purchase), max(last_purchase)
        FROM icash_load_customers GROUP BY id;
        INSERT INTO customer_branches (branch_id, customer_id, purchases)
        SELECT branch_id, customer_id, sum(purchases)
        FROM icash_load_customer_branches GROUP BY 1, 2;
    ELSE
        INSERT INTO customers (id, purchases, spent, first_purchase, last_purchase)
        SELECT id, purchases, spent, first_purchase, last_purchase FROM icash_load_customers;
        INSERT INTO customer_branches (branch_id, customer_id, purchases)
        SELECT branch_id, customer_id, purchases FROM icash_load_customer_branches;
    END IF;
    DROP TABLE icash_load_customers, icash_load_customer_branches;
    INSERT INTO customer_histogram (purchases, shard, customers)
    SELECT purchases, 0, count(*) FROM customers WHERE purchases > 0 GROUP BY 1;
    INSERT INTO branch_customers (branch_id, shard, customers)
    SELECT branch_id, 0, count(*) FROM customer_branches GROUP BY 1;
END;
$$;

-- As in the bulk_load_staging migration, with the customers from the staged sums and the
-- sequence set from the last purchase id the loader gave.
DROP FUNCTION icash_bulk_load_finish();
CREATE FUNCTION icash_bulk_load_finish(last_id bigint, partial_sums boolean) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    item record;
BEGIN
    -- Sorting and hashing millions of rows in memory rather than in temporary files.
    PERFORM set_config('work_mem', '256MB', true);
    PERFORM set_config('maintenance_work_mem', '512MB', true);
    PERFORM setval(pg_get_serial_sequence('purchases', 'id'), last_id);
    PERFORM icash_customers_from_sums(partial_sums);
    TRUNCATE branch_hours, product_hours;
    INSERT INTO branch_hours (branch_id, hour, shard, purchases, revenue)
    SELECT branch_id, icash_hour(hour), 0, sum(purchases), sum(revenue) FROM icash_load_branch_hours GROUP BY 1, 2;
    INSERT INTO product_hours (product_id, branch_id, hour, shard, units)
    SELECT product_id, branch_id, icash_hour(hour), 0, sum(units) FROM icash_load_product_hours GROUP BY 1, 2, 3;
    DROP TABLE icash_load_branch_hours, icash_load_product_hours;
    PERFORM icash_rebuild_from_hours();
    FOR item IN SELECT restore FROM icash_set_aside ORDER BY kind, restore LOOP
        EXECUTE item.restore;
    END LOOP;
    DROP TABLE icash_set_aside;
    ALTER TABLE purchases ENABLE TRIGGER USER;
    ALTER TABLE purchase_lines ENABLE TRIGGER USER;
    ANALYZE purchases, purchase_lines, customers;
END;
$$;

-- Loads were its only caller.
DROP FUNCTION icash_rebuild_customers();

-- Unused since the monthly_aggregates migration cut periods with date arithmetic, and it had the
-- flaw that made that change: a timestamptz plus '1 day' follows the session's time zone.
DROP FUNCTION icash_day_ceil(timestamptz);
