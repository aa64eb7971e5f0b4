-- What GitHub answered at $2 (ms) about login $1 (lower-case): its account $3, or $4 (1) that
-- it knows no such login.
INSERT INTO gh_login_asks (login, asked_at, account_id, missing) VALUES ($1, $2, $3, $4)
ON CONFLICT (login) DO UPDATE SET asked_at = excluded.asked_at,
    account_id = excluded.account_id, missing = excluded.missing
