-- Forgets the entries list $2 of repository $1 (its id) gave (a maintainer's commands stay).
DELETE FROM vouch_entries WHERE repo_id = $1 AND origin = $2 AND source <> 'command'
