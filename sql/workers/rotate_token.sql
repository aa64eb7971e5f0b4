-- Worker $3, unless it was archived, gets the token whose digest is $1, at $2 (ms).
UPDATE workers SET token_hash = $1, last_seen_at = $2 WHERE id = $3 AND archived_at IS NULL
