-- Every entry of login $1 not resolved yet names account $2.
UPDATE vouch_entries SET account_id = $2 WHERE account_id IS NULL AND login = $1
