SELECT d.branch_id, d.business_date AS start_date, NULL::timestamptz AS start_at,
       sum(d.purchases)::bigint AS purchases, sum(d.revenue) AS revenue, sum(d.units)::bigint AS units,
       sum(d.refunds)::bigint AS refunds, sum(d.refunded) AS refunded
FROM branch_business_days d
WHERE d.branch_id = ANY ((SELECT icash_branch_ids($1))::integer[])
  AND d.business_date >= $2::date AND d.business_date <= $3::date
GROUP BY d.branch_id, d.business_date
