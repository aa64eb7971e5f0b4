-- The lists repository $1 (its id) reads, by origin.
SELECT origin AS "origin!" FROM vouch_lists WHERE repo_id = $1
