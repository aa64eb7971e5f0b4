-- Who made the last status change of task $1 (the actor of its newest `task.status` event).
SELECT actor AS "actor!"
FROM events
WHERE task_id = $1 AND kind = 'task.status'
ORDER BY id DESC
LIMIT 1
