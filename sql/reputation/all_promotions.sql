-- Every repository's promotion rules, by repository, then level.
SELECT repo_id AS "repo_id!: i64", level AS "level!: i64", merged AS "merged!: i64"
FROM repo_promotions
ORDER BY repo_id, level
