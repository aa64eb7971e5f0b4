-- The repositories the App is installed on, by name.
SELECT repo AS "repo!", github_id AS "github_id?: i64", installation_id AS "installation_id?: i64",
    config AS "config?", config_error AS "config_error?",
    config_checked_at AS "config_checked_at!: i64"
FROM gh_repos
WHERE installation_id IS NOT NULL
ORDER BY repo
