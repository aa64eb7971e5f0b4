-- Forgets the writes of installation $1.
DELETE FROM gh_write_log WHERE installation_id = $1
