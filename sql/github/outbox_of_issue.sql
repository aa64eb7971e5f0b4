-- The outbox rows of issue $2 of repository $1, in any state, oldest first.
SELECT kind AS "kind!", state AS "state!", body AS "body!"
FROM gh_outbox
WHERE repo = $1 AND issue_number = $2
ORDER BY id
