-- What lease $3's agent last said it does ($1), at $2 (ms).
UPDATE leases SET progress = $1, progress_at = $2 WHERE id = $3
