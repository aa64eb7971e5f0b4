-- The rows a claim, an ack and a status move write, made cheaper to write (PostgreSQL only; the
-- SQLite schema has no heap-only updates and already filters the trigger below).
--
-- A worker's row is written by every claim and move (its load counters, and when it was last
-- seen). An index on `last_seen_at` made each of those writes a new row version with an entry in
-- every index of the table; without it no column the hot path writes is indexed, and with room
-- left on its page the update stays on the page (a heap-only update, no index entry at all). The
-- presence sweep reads the table instead (at most every 800 ms, on a table of one row per
-- worker).
DROP INDEX workers_presence;
ALTER TABLE workers SET (fillfactor = 70);

-- A lease row is written three times: when granted, acknowledged and ended. The last two change
-- no indexed column: with room on the page they are heap-only updates too.
ALTER TABLE leases SET (fillfactor = 60);

-- `lease_id` is NULL on every task without a live lease: the unique index need not hold those.
ALTER TABLE tasks DROP CONSTRAINT tasks_lease_id_key;
CREATE UNIQUE INDEX tasks_lease_id ON tasks (lease_id) WHERE lease_id IS NOT NULL;

-- The outcome trigger ran its function for every worker's own status move only to find nothing
-- to record (a worker never records an outcome about itself): the condition now says so, as on
-- SQLite, and the function is not called.
DROP TRIGGER events_outcome ON events;
CREATE TRIGGER events_outcome AFTER INSERT ON events
    FOR EACH ROW WHEN (NEW.worker_id IS NOT NULL AND NEW.task_id IS NOT NULL AND (
        NEW.kind IN ('lease.expired', 'lease.nacked')
        OR (NEW.kind = 'task.status' AND NEW.actor NOT LIKE 'worker:%')))
    EXECUTE FUNCTION owp_record_outcome();
