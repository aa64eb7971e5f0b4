-- The repositories installation $1 reaches.
SELECT repo AS "repo!" FROM gh_repos WHERE installation_id = $1
