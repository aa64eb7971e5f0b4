-- The state of each vouch list repository $1 reads, by origin.
SELECT origin AS "origin!", path AS "path?", error AS "error?", read_at AS "read_at?: i64"
FROM vouch_lists
WHERE repo_id = $1
ORDER BY origin
