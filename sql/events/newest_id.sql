-- The id of the newest event, if any.
SELECT MAX(id) AS "id?: i64"
FROM events
