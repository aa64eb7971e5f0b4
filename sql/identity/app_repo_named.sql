-- Whether the App has a record of a repository named $1 (names compared exactly).
SELECT repo AS "repo!" FROM gh_repos WHERE repo = $1
