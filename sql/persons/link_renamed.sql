-- Account $1's link shows login $2 (lower case).
UPDATE gh_links SET login = $2 WHERE account_id = $1 AND login <> $2
