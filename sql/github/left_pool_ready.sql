-- Tasks that are `ready` although their issue left the pool while someone held them: the task
-- and why it left.
SELECT g.task_id AS "task_id!", g.left_pool AS "left_pool!"
FROM gh_tasks g
JOIN tasks t ON t.id = g.task_id
WHERE g.left_pool IS NOT NULL AND t.status = 'ready'
