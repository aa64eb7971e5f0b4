-- The worker account $1 proved to own, if any.
SELECT worker_id AS "worker_id!" FROM gh_links WHERE account_id = $1
