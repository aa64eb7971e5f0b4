-- A reply on issue $2 of repository $1 whose text begins as $3 (lower-case, a `LIKE` pattern),
-- if there is one.
SELECT id AS "id!: i64"
FROM gh_outbox
WHERE repo = $1 AND issue_number = $2 AND kind = 'comment' AND LOWER(body) LIKE $3
LIMIT 1
