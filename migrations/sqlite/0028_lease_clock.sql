-- no-transaction
-- The lease's clock lives in the lease (see the PostgreSQL migration of the same number).
--
-- `leases` holds when the lease must be acknowledged (`accept_by`, while unacknowledged), when it
-- expires (`expires_at`, moved by the ack, renewals and heartbeats) and the instant it ends
-- (`deadline`, the sooner of the two); a lease that ends keeps none of the three. `tasks` loses
-- the three columns and the table constraint that tied its deadline to its status: SQLite
-- removes a constraint only by building the table anew, which is done here as SQLite documents
-- it (foreign keys off, a new table, the rows copied, the old one dropped, the new one renamed,
-- its indexes and triggers made again, the keys checked), in one transaction.
PRAGMA foreign_keys = OFF;
PRAGMA legacy_alter_table = ON;
BEGIN;

ALTER TABLE leases ADD COLUMN accept_by INTEGER;
ALTER TABLE leases ADD COLUMN expires_at INTEGER;
ALTER TABLE leases ADD COLUMN deadline INTEGER;
UPDATE leases SET accept_by = t.accept_by, expires_at = t.lease_expires_at, deadline = t.deadline
    FROM tasks t
    WHERE t.lease_id = leases.id AND t.deadline IS NOT NULL AND leases.ended_at IS NULL;
-- A worker's live leases (its heartbeat), and the live leases by deadline (the sweep).
CREATE INDEX leases_live ON leases (worker_id) WHERE ended_at IS NULL;
CREATE INDEX leases_deadline ON leases (deadline) WHERE ended_at IS NULL;

CREATE TABLE tasks_new (
    seq               INTEGER PRIMARY KEY,
    id                TEXT    NOT NULL UNIQUE,
    repo_id           INTEGER NOT NULL REFERENCES repos (id),
    key               TEXT,
    title             TEXT    NOT NULL,
    description       TEXT    NOT NULL DEFAULT '',
    estimate_points   INTEGER NOT NULL CHECK (estimate_points >= 1),
    priority          INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 3), -- 0 low … 3 critical
    skill_set_id      INTEGER NOT NULL REFERENCES skill_sets (id),
    area              TEXT,
    tier              INTEGER NOT NULL DEFAULT 0 CHECK (tier >= 0),
    status            TEXT    NOT NULL CHECK (status IN
                        ('ready', 'leased', 'in_progress', 'pr_opened', 'merged', 'blocked', 'cancelled')),
    status_reason     TEXT,
    worker_id         TEXT REFERENCES workers (id),
    lease_id          TEXT UNIQUE, -- the live lease (`leases`, which holds its clock)
    area_lock         TEXT,    -- = area while this task holds its area lock
    lease_points      INTEGER, -- the points counted against the holder's capacity while active
    artifact          TEXT,
    attempts          INTEGER NOT NULL DEFAULT 0,
    extensions        TEXT    NOT NULL DEFAULT '{}',
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    awaits_maintainer INTEGER NOT NULL DEFAULT 0,
    requires          TEXT    NOT NULL DEFAULT '{}',
    waiting           INTEGER NOT NULL DEFAULT 0
);
INSERT INTO tasks_new (seq, id, repo_id, key, title, description, estimate_points, priority,
        skill_set_id, area, tier, status, status_reason, worker_id, lease_id, area_lock,
        lease_points, artifact, attempts, extensions, created_at, updated_at, awaits_maintainer,
        requires, waiting)
    SELECT seq, id, repo_id, key, title, description, estimate_points, priority, skill_set_id,
        area, tier, status, status_reason, worker_id, lease_id, area_lock, lease_points, artifact,
        attempts, extensions, created_at, updated_at, awaits_maintainer, requires, waiting
    FROM tasks;
DROP TABLE tasks;
ALTER TABLE tasks_new RENAME TO tasks;

CREATE UNIQUE INDEX tasks_repo_key ON tasks (repo_id, key) WHERE key IS NOT NULL;
CREATE UNIQUE INDEX tasks_area_lock ON tasks (repo_id, area_lock) WHERE area_lock IS NOT NULL;
CREATE INDEX tasks_ready_queue ON tasks (priority DESC, seq) WHERE status = 'ready' AND waiting = 0;
CREATE INDEX tasks_worker ON tasks (worker_id) WHERE worker_id IS NOT NULL;
CREATE INDEX tasks_repo_status ON tasks (repo_id, status);
CREATE INDEX tasks_repo_area ON tasks (repo_id, area, status) WHERE area IS NOT NULL;

CREATE TRIGGER tasks_waiting_blocker AFTER UPDATE OF status ON tasks
WHEN (OLD.status IN ('merged', 'cancelled')) <> (NEW.status IN ('merged', 'cancelled'))
BEGIN
    UPDATE tasks SET waiting = waiting
        + CASE WHEN NEW.status IN ('merged', 'cancelled') THEN -1 ELSE 1 END
          * (SELECT COUNT(*) FROM task_deps d WHERE d.blocker_seq = NEW.seq AND d.task_seq = tasks.seq)
    WHERE seq IN (SELECT task_seq FROM task_deps WHERE blocker_seq = NEW.seq);
END;

CREATE TRIGGER tasks_path_locks AFTER UPDATE OF status, awaits_maintainer ON tasks
WHEN (OLD.status IN ('leased', 'in_progress', 'pr_opened') OR OLD.awaits_maintainer = 1)
    <> (NEW.status IN ('leased', 'in_progress', 'pr_opened') OR NEW.awaits_maintainer = 1)
BEGIN
    UPDATE task_paths
    SET held = CASE WHEN NEW.status IN ('leased', 'in_progress', 'pr_opened')
        OR NEW.awaits_maintainer = 1 THEN 1 ELSE 0 END
    WHERE task_seq = NEW.seq;
END;

COMMIT;
PRAGMA legacy_alter_table = OFF;
PRAGMA foreign_keys = ON;
