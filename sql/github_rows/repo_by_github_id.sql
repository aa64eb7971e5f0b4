-- The App's record of the repository GitHub knows by id $1, under whatever name the pool has it.
SELECT repo AS "repo!", github_id AS "github_id?: i64", installation_id AS "installation_id?: i64",
    config AS "config?", config_error AS "config_error?",
    config_checked_at AS "config_checked_at!: i64"
FROM gh_repos
WHERE github_id = $1
