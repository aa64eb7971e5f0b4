-- Worker $1 was seen at $2 (ms), online.
UPDATE workers SET last_seen_at = $2, presence = 'online' WHERE id = $1
