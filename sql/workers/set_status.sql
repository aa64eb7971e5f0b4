-- Worker $1 is `paused` or `idle` ($2).
UPDATE workers SET status = $2 WHERE id = $1
