-- Forgets account $1's links to workers other than $2.
DELETE FROM gh_links WHERE account_id = $1 AND worker_id <> $2
