-- Installation $1 of account $2 (empty: the one known stays), suspended with $3 (1), seen at
-- $4 (ms).
INSERT INTO gh_installations (id, account, suspended, created_at, updated_at)
VALUES ($1, $2, $3, $4, $4)
ON CONFLICT (id) DO UPDATE SET
    account = CASE WHEN excluded.account = '' THEN gh_installations.account
        ELSE excluded.account END,
    suspended = excluded.suspended, updated_at = excluded.updated_at
