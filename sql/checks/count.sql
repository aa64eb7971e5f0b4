-- How many checks commit $2 of repository $1 keeps.
SELECT COUNT(*) AS "n!: i64" FROM gh_commit_checks WHERE repo = $1 AND sha = $2
