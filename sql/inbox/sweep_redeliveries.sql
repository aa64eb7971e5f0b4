-- Forgets the redeliveries asked for before $1 (ms).
DELETE FROM gh_redeliveries WHERE requested_at < $1
