-- Login $4 on list $3 (source $2) of repository $1 (its id): vouched $5 or denounced $6 (1),
-- with details $7, at $8 (ms), resolved to account $9 if it was.
INSERT INTO vouch_entries (repo_id, source, origin, login, vouched, denounced, details,
    updated_at, account_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
