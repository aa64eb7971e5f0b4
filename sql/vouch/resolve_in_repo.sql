-- Repository $1's (its id) entries of login $2 not resolved yet name account $3.
UPDATE vouch_entries SET account_id = $3 WHERE repo_id = $1 AND login = $2 AND account_id IS NULL
