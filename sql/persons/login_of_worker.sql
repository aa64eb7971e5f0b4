-- The GitHub login proven for worker $1, if any.
SELECT login AS "login!" FROM gh_links WHERE worker_id = $1
