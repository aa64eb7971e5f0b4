-- A reply of text $3 on issue $2 of repository $1 queued since $4 (ms), if there is one.
SELECT id AS "id!: i64"
FROM gh_outbox
WHERE repo = $1 AND issue_number = $2 AND kind = 'comment' AND created_at >= $4 AND body = $3
LIMIT 1
