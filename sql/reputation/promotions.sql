-- The promotion rules of repository $1, by level.
SELECT level AS "level!: i64", merged AS "merged!: i64"
FROM repo_promotions
WHERE repo_id = $1
ORDER BY level
