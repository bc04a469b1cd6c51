-- A bulk load into an empty store (icash-postgres's import session), in one transaction:
-- icash_bulk_load_begin sets aside the keys, foreign keys and secondary indexes of every table
-- the load fills, pauses the triggers, and creates the staging tables; the load COPYs its
-- purchases and lines in, and its own sums into the staging tables; icash_bulk_load_finish
-- builds the aggregates from those sums, then the keys and indexes, each in one pass. Building
-- an index once over a full table is far cheaper than growing it row by row, and building a
-- key's index checks its uniqueness all the same. The tables are locked meanwhile (ACCESS
-- EXCLUSIVE), and a failed load rolls all of it back.
--
-- icash_bulk_load_begin returns the first purchase id the load may use: the load numbers its
-- purchases itself from there, as nobody else can insert any until it commits, and gives
-- icash_bulk_load_finish the last one, which moves the sequence past them.
--
-- The loader sums what the aggregates need as it encodes the batches: the sales per branch and
-- hour and per product, branch and hour, and each customer's and each (branch, customer)
-- pair's purchases. The finish adds those sums up rather than aggregating the loaded purchases,
-- which would join every line to its purchase and read every purchase again. The loader's
-- memory is bounded: past its limit it hands partial sums over and starts again, so a customer
-- may have several staged rows, which the finish then adds up; otherwise each staged row is a
-- whole customer, and goes in as it is.
--
-- Setting keys, indexes and triggers aside is the schema owner's right, and a server may serve
-- with a role that cannot change the schema (see the serving_role migration): the functions a
-- load calls (begin, finish, and the validation of its foreign keys) run with their owner's
-- rights (SECURITY DEFINER), only for the roles granted them. Each runs with the search path
-- set here, this schema then the session's temporary tables, so that no caller can put a table
-- of its own in front of the schema's.
SELECT set_config('search_path', format('%I, pg_temp', current_schema()), true);

CREATE FUNCTION icash_bulk_load_begin() RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
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
    -- The loader COPYs into the staging tables as the caller, not as their owner. A session's
    -- temporary tables are out of every other session's reach, so PUBLIC means the caller.
    GRANT INSERT ON icash_load_branch_hours, icash_load_product_hours, icash_load_customers,
        icash_load_customer_branches TO PUBLIC;
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
        -- anyone, rather than under the load's exclusive locks.
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
-- several staged rows. Customers already in the store (who can only be customers without
-- purchases, the store having none) are added up with the staged sums.
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

-- The daily and monthly aggregates and the totals, from the hourly ones, into shard 0.
CREATE FUNCTION icash_rebuild_from_hours() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE branch_days, branch_months, branch_totals, product_days, product_months, product_totals;
    INSERT INTO branch_days (branch_id, day, shard, purchases, revenue)
    SELECT branch_id, icash_day(hour), 0, sum(purchases), sum(revenue) FROM branch_hours GROUP BY 1, 2;
    INSERT INTO branch_months (branch_id, month, shard, purchases, revenue)
    SELECT branch_id, icash_month(day), 0, sum(purchases), sum(revenue) FROM branch_days GROUP BY 1, 2;
    INSERT INTO branch_totals (branch_id, shard, purchases, revenue)
    SELECT branch_id, 0, sum(purchases), sum(revenue) FROM branch_months GROUP BY 1;
    INSERT INTO product_days (product_id, branch_id, day, shard, units)
    SELECT product_id, branch_id, icash_day(hour), 0, sum(units) FROM product_hours GROUP BY 1, 2, 3;
    INSERT INTO product_months (product_id, branch_id, month, shard, units)
    SELECT product_id, branch_id, icash_month(day), 0, sum(units) FROM product_days GROUP BY 1, 2, 3;
    INSERT INTO product_totals (product_id, branch_id, shard, units)
    SELECT product_id, branch_id, 0, sum(units) FROM product_months GROUP BY 1, 2;
END;
$$;

-- Ends a load: the sequence past `last_id`, the aggregates from the staged sums, then what
-- icash_bulk_load_begin set aside, and fresh statistics for the planner.
CREATE FUNCTION icash_bulk_load_finish(last_id bigint, partial_sums boolean) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
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

-- Validates the foreign keys that a bulk load restored NOT VALID, and returns how many it
-- validated. VALIDATE CONSTRAINT takes a lock that lets purchases and reads go on.
CREATE FUNCTION icash_validate_foreign_keys() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
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

-- Functions that run with their owner's rights are for the roles granted them only.
REVOKE EXECUTE ON FUNCTION icash_bulk_load_begin(), icash_bulk_load_finish(bigint, boolean),
    icash_validate_foreign_keys() FROM PUBLIC;
