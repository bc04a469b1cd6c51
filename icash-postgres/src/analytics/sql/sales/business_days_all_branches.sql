SELECT coalesce(array_agg(s.business_date ORDER BY s.business_date), '{}') AS dates,
       coalesce(array_agg(s.purchases ORDER BY s.business_date), '{}') AS purchases,
       coalesce(array_agg(s.revenue ORDER BY s.business_date), '{}') AS revenues,
       coalesce(array_agg(s.units ORDER BY s.business_date), '{}') AS units,
       coalesce(array_agg(s.refunds ORDER BY s.business_date), '{}') AS refunds,
       coalesce(array_agg(s.refunded ORDER BY s.business_date), '{}') AS refunded
FROM (
    SELECT d.business_date, sum(d.purchases)::bigint AS purchases, sum(d.revenue) AS revenue,
           sum(d.units)::bigint AS units, sum(d.refunds)::bigint AS refunds, sum(d.refunded) AS refunded
    FROM branch_business_days d
    WHERE $1::integer IS NULL
      AND d.business_date >= $2::date AND d.business_date <= $3::date
    GROUP BY d.business_date
) AS s
