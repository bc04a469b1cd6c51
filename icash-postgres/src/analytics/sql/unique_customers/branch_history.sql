SELECT coalesce(sum(customers), 0)::bigint FROM branch_customers WHERE branch_id = $1
