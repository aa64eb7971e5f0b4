-- The $1 installations with the most comments waiting in the GitHub outbox, most first.
SELECT installation_id AS "installation_id!: i64", COUNT(*) AS "comments!: i64"
FROM gh_outbox
WHERE state = 'pending'
GROUP BY installation_id
ORDER BY COUNT(*) DESC, installation_id
LIMIT $1
