-- Tasks by repository and status (a pair with none has no row).
SELECT r.name AS "repo!", t.status AS "status!", COUNT(*) AS "tasks!: i64"
FROM tasks t
JOIN repos r ON r.id = t.repo_id
GROUP BY r.name, t.status
