-- The repositories on $1's sign-in list that are still repositories of the App's installations,
-- with their installation, by name.
SELECT g.repo AS "repo!", g.installation_id AS "installation_id!: i64"
FROM signin_repos s
JOIN gh_repos g ON g.repo = s.repo
WHERE s.login = $1 AND g.installation_id IS NOT NULL
ORDER BY g.repo
