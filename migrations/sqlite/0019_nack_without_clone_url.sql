-- A nack of a task whose repository has no clone URL is not the worker's outcome (SQLite; the
-- same change for PostgreSQL is in migrations/postgres).
--
-- Without a clone URL the agent hand-off has nothing to clone, so `owp worker run --agent` gives
-- the task back at once ("not attempted: the repository has no clone URL"). That is the
-- maintainers' gap, not the volunteer's: such a nack is not recorded in `outcomes`, so it counts
-- in no reputation, promotion or leaderboard. The pool decides from the repository row at the
-- moment of the nack, never from the reason the worker gives: in a repository that has a clone
-- URL every nack counts, whatever its words. The nack itself is unchanged (logged, and the task is
-- not offered to the same worker again for an hour).
--
-- The trigger is the one of 0012_reputation.sql with the last condition added.
DROP TRIGGER events_outcome;

CREATE TRIGGER events_outcome AFTER INSERT ON events
WHEN NEW.worker_id IS NOT NULL AND NEW.task_id IS NOT NULL AND (
    NEW.kind IN ('lease.expired', 'lease.nacked')
    OR (NEW.kind = 'task.status' AND NEW.actor NOT LIKE 'worker:%' AND (
        json_extract(NEW.data, '$.status') = 'merged'
        OR (json_extract(NEW.data, '$.from') = 'pr_opened'
            AND json_extract(NEW.data, '$.status') IN ('ready', 'cancelled')))))
    AND NOT (NEW.kind = 'lease.nacked'
        AND EXISTS (SELECT 1 FROM repos WHERE name = NEW.repo AND clone_url IS NULL))
BEGIN
    INSERT OR IGNORE INTO outcomes (kind, task_id, lease_id, worker_id, repo_id, event_id, at)
    VALUES (
        CASE
            WHEN NEW.kind = 'lease.expired' THEN 'expired'
            WHEN NEW.kind = 'lease.nacked' THEN 'nacked'
            WHEN json_extract(NEW.data, '$.status') = 'merged' THEN 'merged'
            ELSE 'closed_unmerged'
        END,
        NEW.task_id,
        COALESCE(json_extract(NEW.data, '$.lease_id'), ''),
        NEW.worker_id,
        (SELECT id FROM repos WHERE name = NEW.repo),
        NEW.id,
        NEW.at);
END;
