-- The pool meets the person $1, now named $2, at $3 (ms): their record, or its login refreshed.
INSERT INTO persons (account_id, login, first_seen_at) VALUES ($1, $2, $3)
ON CONFLICT (account_id) DO UPDATE SET login = excluded.login
