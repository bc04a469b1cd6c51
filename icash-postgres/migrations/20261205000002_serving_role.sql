-- A role to serve with that cannot change the schema: the schema's owner applies the
-- migrations, then grants a serving role what a server does, and nothing more. The role reads
-- and writes the data, uses the sequences and runs the functions (the bulk load's run with
-- their owner's rights; see the bulk_load migration); it creates no table, index or function,
-- and only reads the record of the migrations applied.
--
-- Granted on what exists when it runs: the owner runs it again after applying new migrations
-- (`icash-server migrate --grant <role>` does both).
CREATE FUNCTION icash_grant_serving_role(serving_role name) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', current_database(), serving_role);
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', current_schema(), serving_role);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO %I',
                   current_schema(), serving_role);
    EXECUTE format('REVOKE INSERT, UPDATE, DELETE ON _sqlx_migrations FROM %I', serving_role);
    EXECUTE format('GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA %I TO %I',
                   current_schema(), serving_role);
    EXECUTE format('GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA %I TO %I', current_schema(), serving_role);
    EXECUTE format('REVOKE EXECUTE ON FUNCTION icash_grant_serving_role(name) FROM %I', serving_role);
END;
$$;
REVOKE EXECUTE ON FUNCTION icash_grant_serving_role(name) FROM PUBLIC;
