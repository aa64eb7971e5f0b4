-- The long poll worker $1 began last.
SELECT holder AS "holder!" FROM held_polls WHERE worker_id = $1
