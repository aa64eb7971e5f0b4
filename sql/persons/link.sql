-- Worker $1 is linked to account $2 (login $3, lower case) from $4 (ms).
INSERT INTO gh_links (worker_id, account_id, login, linked_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (worker_id) DO UPDATE SET account_id = excluded.account_id,
    login = excluded.login, linked_at = excluded.linked_at
