-- The states of commit $2's checks in repository $1, each once.
SELECT DISTINCT state AS "state!" FROM gh_commit_checks WHERE repo = $1 AND sha = $2
