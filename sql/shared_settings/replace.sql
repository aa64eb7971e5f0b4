-- The value kept under $3 becomes $1 at $2 (ms) if it is still $4.
UPDATE shared_settings SET value = $1, set_at = $2 WHERE name = $3 AND value = $4
