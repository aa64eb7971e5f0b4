-- Each task merged at or after $1 (ms): its repository and its lead time (ms) from its first
-- claim (its first lease) to the merge, none when no lease came before it; with $2, of public,
-- unarchived repositories alone.
SELECT
    r.name AS "repo!",
    o.at - (SELECT MIN(l.created_at) FROM leases l
            WHERE l.task_seq = t.seq AND l.created_at <= o.at) AS "lead_ms?: i64"
FROM outcomes o
JOIN repos r ON r.id = o.repo_id
JOIN tasks t ON t.id = o.task_id
WHERE o.at >= $1 AND o.kind = 'merged'
  AND (NOT $2 OR (r.private = 0 AND r.archived_at IS NULL))
