-- Whether task $1's issue carries its repository's first-timers label ($2: 1 or 0).
UPDATE tasks SET first_timers = $2 WHERE id = $1 AND first_timers <> $2
