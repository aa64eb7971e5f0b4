-- Worker $1, not seen since $2 (ms), is offline: of several processes sweeping at once, one
-- changes it.
UPDATE workers SET presence = 'offline'
WHERE id = $1 AND presence = 'online' AND last_seen_at <= $2
