-- Up to 500 workers still marked online whose last contact kept in the database is at or
-- before $1 (ms), by id: those the presence sweep logs as offline.
SELECT id AS "id!"
FROM workers
WHERE presence = 'online' AND last_seen_at <= $1
ORDER BY id
LIMIT 500
