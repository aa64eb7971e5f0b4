-- Tasks merged and closed unmerged at or after $1 (ms), by repository and kind; with $2, of
-- public, unarchived repositories alone. A repository with none has no row.
SELECT r.name AS "repo!", o.kind AS "kind!", COUNT(*) AS "n!: i64"
FROM outcomes o
JOIN repos r ON r.id = o.repo_id
WHERE o.at >= $1 AND o.kind IN ('merged', 'closed_unmerged')
  AND (NOT $2 OR (r.private = 0 AND r.archived_at IS NULL))
GROUP BY r.name, o.kind
