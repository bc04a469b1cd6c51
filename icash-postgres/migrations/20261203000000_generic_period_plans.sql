-- The period functions' main query is planned once per session, not at every call.
--
-- PL/pgSQL caches the plan of each statement, but for a statement with parameters (here the
-- period's edges) it chooses a custom plan, made for the call's values, whenever the generic
-- plan's estimated cost is higher; with ranges of timestamps it always is, so the seven-part
-- query of each period was planned again at every call. Planning it took more than running it:
-- on 10 million purchases, one client, a day's or a month's top products took 0.85 to 1.16 ms
-- a call with a custom plan and 0.35 to 0.42 ms with the generic one, a year's 0.90 to 1.30 ms
-- against 0.46 to 0.55 ms, and the branches' sales likewise. The generic plan reads each level
-- through its time index whatever the period, which is the plan the custom ones chose too: the
-- edges never hold more than half a unit of the level below them.

ALTER FUNCTION icash_branch_sales(integer, timestamptz, timestamptz)
    SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION icash_product_units(integer, timestamptz, timestamptz)
    SET plan_cache_mode = force_generic_plan;
