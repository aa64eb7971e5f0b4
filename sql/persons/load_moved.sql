-- Worker $1's load grows by $2 tasks and $3 points (or shrinks, by negative ones).
UPDATE workers SET active_tasks = active_tasks + $2, active_points = active_points + $3
WHERE id = $1
