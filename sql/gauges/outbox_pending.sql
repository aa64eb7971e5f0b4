-- The comments waiting in the GitHub outbox.
SELECT COUNT(*) AS "comments!: i64" FROM gh_outbox WHERE state = 'pending'
