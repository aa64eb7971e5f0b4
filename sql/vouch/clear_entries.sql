-- Forgets the entries of list $3 (source $2) of repository $1 (its id).
DELETE FROM vouch_entries WHERE repo_id = $1 AND source = $2 AND origin = $3
