-- Implicit worker $1 was seen at $2 (ms), online, holding at most $3 tasks at once.
UPDATE workers SET last_seen_at = $2, presence = 'online', max_concurrent_tasks = $3 WHERE id = $1
