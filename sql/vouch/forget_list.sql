-- Forgets list $2 of repository $1 (its id).
DELETE FROM vouch_lists WHERE repo_id = $1 AND origin = $2
