-- The comment claims of account $1's workers show login $2.
UPDATE gh_claims SET login = $2
WHERE login <> $2 AND worker_id IN (SELECT w.id FROM workers w WHERE w.github_account_id = $1)
