-- Worker $1's unused link codes stop working.
DELETE FROM gh_link_codes WHERE worker_id = $1 AND used_at IS NULL
