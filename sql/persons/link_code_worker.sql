-- The worker of the unused link code of hash $1, live at $2 (ms).
SELECT worker_id AS "worker_id!"
FROM gh_link_codes
WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2
