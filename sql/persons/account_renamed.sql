-- Account $1's age record shows login $2.
UPDATE gh_accounts SET login = $2 WHERE account_id = $1 AND login <> $2
