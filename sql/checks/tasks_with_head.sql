-- The tasks of repository $1 whose acting, open linked pull request has head commit $2.
SELECT DISTINCT task_id AS "task_id!"
FROM gh_linked_prs
WHERE repo = $1 AND head_sha = $2 AND state = 'open' AND acting = 1
