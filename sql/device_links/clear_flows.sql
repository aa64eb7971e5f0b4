-- Forgets the link flows that expired before $1 (ms), and worker $2's flows under way: a
-- worker has one at a time.
DELETE FROM worker_link_flows WHERE expires_at < $1 OR (worker_id = $2 AND used_at IS NULL)
