-- The App's record of repository $1: the installation that reaches it (none: the App left).
SELECT installation_id AS "installation_id?: i64" FROM gh_repos WHERE repo = $1
