-- Ends worker $2's unused flow of digest $1 at $3 (ms).
UPDATE worker_link_flows SET used_at = $3
WHERE digest = $1 AND worker_id = $2 AND used_at IS NULL
