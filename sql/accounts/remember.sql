-- What GitHub said of account $1, then named $2: when it was created ($3, ms; NULL when GitHub did
-- not answer), asked at $4 (ms). A known age is never forgotten.
INSERT INTO gh_accounts (account_id, login, created_at, read_at)
VALUES ($1, $2, $3, $4)
ON CONFLICT (account_id) DO UPDATE SET login = excluded.login,
    created_at = COALESCE(gh_accounts.created_at, excluded.created_at),
    read_at = excluded.read_at
