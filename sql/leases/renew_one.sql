-- renew_worker.sql for lease $4 of worker $3 alone.
UPDATE leases SET
    expires_at = CASE WHEN acked_at IS NULL AND accept_by > $1 THEN accept_by ELSE $1 END,
    deadline = CASE WHEN acked_at IS NULL THEN accept_by ELSE $1 END
WHERE worker_id = $3 AND ended_at IS NULL AND deadline > $2 AND id = $4
