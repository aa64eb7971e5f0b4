-- Forgets installation $1's writes made at or before $2 (ms): they count in no budget now.
DELETE FROM gh_write_log WHERE installation_id = $1 AND at <= $2
