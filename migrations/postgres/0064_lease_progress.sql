-- What the agent working on a lease last said it does, in one bounded line (`owp worker run
-- --acp` sends it with a renewal: `POST /v1/leases/{id}/renew {"progress": …}`), and when.
-- Shown to the lease's holder and on the dashboard while the lease lives.
ALTER TABLE leases ADD COLUMN progress TEXT;
ALTER TABLE leases ADD COLUMN progress_at BIGINT;
