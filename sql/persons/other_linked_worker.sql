-- The worker other than $2 that account $1 proved to own, if any.
SELECT worker_id AS "worker_id!" FROM gh_links WHERE account_id = $1 AND worker_id <> $2
