-- The lease's clock lives in the lease (PostgreSQL; SQLite's schema is the same).
--
-- Every heartbeat and renewal moved three columns of the wide `tasks` row: a new version of a
-- row of some twenty columns, several of them long texts, for a change nobody looking at the
-- task can notice. The clock is the lease's own: `leases` holds when the lease must be
-- acknowledged (`accept_by`, while unacknowledged), when it expires (`expires_at`, moved by the
-- ack, renewals and heartbeats) and the instant it ends (`deadline`, the sooner of the two). A
-- renewal writes the lease's narrow row and nothing else; `tasks` is written when its status
-- changes. A lease that ends keeps none of the three (`ended_at` says when it ended).
ALTER TABLE leases ADD COLUMN accept_by BIGINT;
ALTER TABLE leases ADD COLUMN expires_at BIGINT;
ALTER TABLE leases ADD COLUMN deadline BIGINT;
UPDATE leases l SET accept_by = t.accept_by, expires_at = t.lease_expires_at, deadline = t.deadline
    FROM tasks t
    WHERE t.lease_id = l.id AND t.deadline IS NOT NULL AND l.ended_at IS NULL;

-- The sweep reads the live leases through an index that holds no column a renewal writes, so a
-- renewal with room on its page (the table's fillfactor) is a heap-only update. It also finds a
-- worker's live leases for its heartbeat.
CREATE INDEX leases_live ON leases (worker_id) WHERE ended_at IS NULL;

-- Dropping `deadline` drops the table constraint that tied it to the status.
DROP INDEX tasks_in_flight;
ALTER TABLE tasks DROP COLUMN accept_by;
ALTER TABLE tasks DROP COLUMN lease_expires_at;
ALTER TABLE tasks DROP COLUMN deadline;
