SELECT coalesce(sum(customers), 0)::bigint FROM customer_histogram WHERE purchases > 0
