-- A maintainer's `/owp unvouch` of login $2 in repository $1 (its id).
DELETE FROM vouch_entries
WHERE repo_id = $1 AND source = 'command' AND origin = '' AND login = $2
