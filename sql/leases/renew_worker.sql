-- The live leases of worker $3 at $2 (ms) last until $1 (ms); one not acknowledged yet still ends
-- at its accept-by deadline. Only the lease's own row is written.
UPDATE leases SET
    expires_at = CASE WHEN acked_at IS NULL AND accept_by > $1 THEN accept_by ELSE $1 END,
    deadline = CASE WHEN acked_at IS NULL THEN accept_by ELSE $1 END
WHERE worker_id = $3 AND ended_at IS NULL AND deadline > $2
