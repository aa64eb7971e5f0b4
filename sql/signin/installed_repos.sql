-- The repositories of the App's installations, with their installation, by name.
SELECT repo AS "repo!", installation_id AS "installation_id!: i64"
FROM gh_repos
WHERE installation_id IS NOT NULL
ORDER BY repo
