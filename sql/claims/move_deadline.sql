-- Lease $1 of claimed (in progress) task $2 ends at $3 (ms), if it is still running: the
-- lease's clock, in the lease's row.
UPDATE leases SET expires_at = $3, deadline = $3
WHERE id = $1 AND ended_at IS NULL AND acked_at IS NOT NULL
    AND task_seq = (SELECT seq FROM tasks WHERE id = $2 AND lease_id = $1)
