-- Bulk loads stage their hourly sales: the loader sums each batch per branch and hour and per
-- product, branch and hour as it encodes it, and COPYs those sums into two temporary tables.
-- icash_bulk_load_finish adds them up into the hourly aggregates, instead of joining every line
-- to its purchase: at 1M purchases that join was 4 of the load's 15 seconds.
--
-- The rebuild is split in two parts that a rebuild from the staged hours needs: the customers'
-- aggregates, and the days and totals derived from the hours.

-- Customers, their histogram, and which customers bought at each branch, from the purchases.
CREATE FUNCTION icash_rebuild_customers() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO customers (id, purchases, spent, first_purchase, last_purchase)
    SELECT customer_id, count(*), sum(total), min(purchased_at), max(purchased_at)
    FROM purchases GROUP BY customer_id
    ON CONFLICT (id) DO UPDATE
        SET purchases = excluded.purchases, spent = excluded.spent,
            first_purchase = excluded.first_purchase, last_purchase = excluded.last_purchase;

    TRUNCATE customer_histogram, customer_branches, branch_customers;
    INSERT INTO customer_histogram (purchases, shard, customers)
    SELECT purchases, 0, count(*) FROM customers WHERE purchases > 0 GROUP BY 1;
    INSERT INTO customer_branches (branch_id, customer_id, purchases)
    SELECT branch_id, customer_id, count(*) FROM purchases GROUP BY 1, 2;
    INSERT INTO branch_customers (branch_id, shard, customers)
    SELECT branch_id, 0, count(*) FROM customer_branches GROUP BY 1;
END;
$$;

-- The daily aggregates and the totals, from the hourly ones.
CREATE FUNCTION icash_rebuild_from_hours() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE branch_days, branch_totals, product_days, product_totals;
    INSERT INTO branch_days (branch_id, day, shard, purchases, revenue)
    SELECT branch_id, icash_day(hour), 0, sum(purchases), sum(revenue) FROM branch_hours GROUP BY 1, 2;
    INSERT INTO branch_totals (branch_id, shard, purchases, revenue)
    SELECT branch_id, 0, sum(purchases), sum(revenue) FROM branch_days GROUP BY 1;
    INSERT INTO product_days (product_id, branch_id, day, shard, units)
    SELECT product_id, branch_id, icash_day(hour), 0, sum(units) FROM product_hours GROUP BY 1, 2, 3;
    INSERT INTO product_totals (product_id, branch_id, shard, units)
    SELECT product_id, branch_id, 0, sum(units) FROM product_days GROUP BY 1, 2;
END;
$$;

-- The full rebuild served the backfill of the hourly_aggregates migration and the bulk load;
-- the load now uses the parts above, and nothing calls it any more.
DROP FUNCTION icash_rebuild_aggregates();

-- As in the hourly_aggregates migration, but it sets aside the keys too, of every table the load
-- fills (not only the purchases' foreign keys and secondary indexes), and creates the staging
-- tables. Building an index once over a full table is far cheaper than growing it row by row,
-- and building a key's index checks its uniqueness all the same. The customers keep their key:
-- the rebuild upserts them.
CREATE OR REPLACE FUNCTION icash_bulk_load_begin() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    item record;
    keyed regclass[] := ARRAY['purchases', 'purchase_lines', 'customer_branches', 'branch_hours',
        'product_hours', 'branch_days', 'product_days']::regclass[];
    indexed regclass[] := keyed || 'customers'::regclass;
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
    FOR item IN
        SELECT c.conrelid::regclass AS tab, c.conname, c.contype, pg_get_constraintdef(c.oid) AS def
        FROM pg_constraint c
        WHERE (c.contype = 'f' AND (c.conrelid = ANY (keyed) OR c.confrelid = ANY (keyed)))
           OR (c.contype IN ('p', 'u') AND c.conrelid = ANY (keyed))
        -- Foreign keys first: they depend on the keys they reference.
        ORDER BY c.contype = 'f' DESC, c.conname
    LOOP
        -- A foreign key comes back NOT VALID: the loader has checked every reference itself,
        -- PostgreSQL enforces it on every new row from the commit on, and
        -- icash_validate_foreign_keys proves the loaded rows afterwards without blocking
        -- anyone (checking them here, under the load's exclusive locks, took 17 of the 96
        -- seconds of a 10M load).
        INSERT INTO icash_set_aside
        VALUES (CASE WHEN item.contype = 'f' THEN 3 ELSE 1 END,
                format('ALTER TABLE %s ADD CONSTRAINT %I %s%s', item.tab, item.conname, item.def,
                       CASE WHEN item.contype = 'f' THEN ' NOT VALID' ELSE '' END));
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', item.tab, item.conname);
    END LOOP;
    FOR item IN
        SELECT i.indexrelid::regclass AS idx, pg_get_indexdef(i.indexrelid) AS def
        FROM pg_index i
        WHERE i.indrelid = ANY (indexed) AND NOT i.indisunique
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

-- As in the hourly_aggregates migration, with the hours from the staged sums.
CREATE OR REPLACE FUNCTION icash_bulk_load_finish() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    item record;
BEGIN
    -- Sorting and hashing millions of rows in memory rather than in temporary files.
    PERFORM set_config('work_mem', '256MB', true);
    PERFORM set_config('maintenance_work_mem', '512MB', true);
    PERFORM setval(pg_get_serial_sequence('purchases', 'id'), max(id)) FROM purchases HAVING max(id) IS NOT NULL;
    PERFORM icash_rebuild_customers();
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

-- Validates the foreign keys that a bulk load restored NOT VALID, and returns how many it
-- validated. VALIDATE CONSTRAINT takes a lock that lets purchases and reads go on.
CREATE FUNCTION icash_validate_foreign_keys() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    item record;
    validated integer := 0;
BEGIN
    FOR item IN
        SELECT c.conrelid::regclass AS tab, c.conname
        FROM pg_constraint c
        JOIN pg_namespace n ON n.oid = c.connamespace
        WHERE c.contype = 'f' AND NOT c.convalidated AND n.nspname = current_schema()
        ORDER BY c.conname
    LOOP
        EXECUTE format('ALTER TABLE %s VALIDATE CONSTRAINT %I', item.tab, item.conname);
        validated := validated + 1;
    END LOOP;
    RETURN validated;
END;
$$;

-- Nothing reads purchases by customer any more (the customers table carries each customer's
-- counters), and every purchase and every bulk load paid for this index.
DROP INDEX purchases_customer_idx;
