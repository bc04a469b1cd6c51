SELECT coalesce(array_agg(d.business_date), '{}') AS dates,
       coalesce(array_agg(d.purchases), '{}') AS purchases,
       coalesce(array_agg((d.revenue * 100)::bigint), '{}') AS revenue_cents,
       coalesce(array_agg(d.units), '{}') AS units,
       coalesce(array_agg(d.refunds), '{}') AS refunds,
       coalesce(array_agg((d.refunded * 100)::bigint), '{}') AS refunded_cents
FROM chain_business_days d
WHERE $1::integer IS NULL
  AND d.business_date >= $2::date AND d.business_date <= $3::date
