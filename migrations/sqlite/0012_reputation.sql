-- Reputation, trust progression and credit (SQLite). The same schema exists for PostgreSQL in
-- migrations/postgres.
--
-- A worker opts in to having its outcomes counted (`reputation_opt_in`) and, separately, to being
-- listed on the leaderboard (`leaderboard_opt_in`). Both default to no.
ALTER TABLE workers ADD COLUMN reputation_opt_in INTEGER NOT NULL DEFAULT 0;
ALTER TABLE workers ADD COLUMN leaderboard_opt_in INTEGER NOT NULL DEFAULT 0;

-- A repository's promotion rules: a worker that opted in and has at least `merged` merged tasks
-- in the repository has at least trust `level` there. Claims read this table in the statement
-- that takes the task, so the effective trust is enforced by the database.
CREATE TABLE repo_promotions (
    repo_id INTEGER NOT NULL REFERENCES repos (id),
    level   INTEGER NOT NULL CHECK (level BETWEEN 1 AND 1000),
    merged  INTEGER NOT NULL CHECK (merged BETWEEN 1 AND 10000),
    PRIMARY KEY (repo_id, level)
);

-- The outcomes of workers' tasks, derived from the audit log by the trigger below: one row per
-- (kind, task, lease), so a redelivered webhook or a second replica that logs the same end again
-- counts nothing twice. Every count of reputation, promotion and the leaderboard reads here.
--   merged          a merge decided by an admin or GitHub (never by a worker);
--   closed_unmerged the task left `pr_opened` without merging (its pull request was closed);
--   expired         a lease ran out;
--   nacked          the worker gave the task back.
CREATE TABLE outcomes (
    kind      TEXT    NOT NULL CHECK (kind IN ('merged', 'closed_unmerged', 'expired', 'nacked')),
    task_id   TEXT    NOT NULL,
    lease_id  TEXT    NOT NULL,                -- '' when the task had no lease
    worker_id TEXT    NOT NULL,
    repo_id   INTEGER,
    event_id  INTEGER NOT NULL,                -- the audit event it was read from
    at        INTEGER NOT NULL,
    PRIMARY KEY (kind, task_id, lease_id)
);

CREATE INDEX outcomes_worker ON outcomes (worker_id, kind, repo_id);
CREATE INDEX outcomes_repo ON outcomes (repo_id, kind, at);

CREATE TRIGGER events_outcome AFTER INSERT ON events
WHEN NEW.worker_id IS NOT NULL AND NEW.task_id IS NOT NULL AND (
    NEW.kind IN ('lease.expired', 'lease.nacked')
    OR (NEW.kind = 'task.status' AND NEW.actor NOT LIKE 'worker:%' AND (
        json_extract(NEW.data, '$.status') = 'merged'
        OR (json_extract(NEW.data, '$.from') = 'pr_opened'
            AND json_extract(NEW.data, '$.status') IN ('ready', 'cancelled')))))
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
