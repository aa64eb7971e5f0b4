-- Lease $1 is worker $2's.
UPDATE leases SET worker_id = $2 WHERE id = $1
