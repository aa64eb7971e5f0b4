-- Plan first (contract section 12, rule 11 `approval_required`).
--
-- A repository's policy: `approval` is 'none' (claims as before) or 'plan' (a worker whose
-- effective trust is below `approval_skip_trust`, everyone when it is NULL, claims a task only
-- with an approved proposal for it); a proposal stays open `proposal_days` days at most.
ALTER TABLE repos ADD COLUMN approval TEXT NOT NULL DEFAULT 'none'
    CHECK (approval IN ('none', 'plan'));
ALTER TABLE repos ADD COLUMN approval_skip_trust INTEGER
    CHECK (approval_skip_trust BETWEEN 0 AND 3);
ALTER TABLE repos ADD COLUMN proposal_days INTEGER NOT NULL DEFAULT 7
    CHECK (proposal_days BETWEEN 1 AND 30);

-- A worker's plan for a `ready` task. `proposer` is whom the pool limits: `github:LOGIN` (the
-- login the worker is linked to, lower-case) or `worker:ID` (an unlinked worker). `state` is
-- `open` until the proposal ends (`approved`, `declined`, `not_chosen`, `withdrawn`, `expired`,
-- at `ended_at`); `recorded` is 1 once its end has its audit event (an end written by the
-- trigger below gets it from the next sweep).
CREATE TABLE proposals (
    seq        INTEGER PRIMARY KEY,
    id         TEXT    NOT NULL UNIQUE,
    task_seq   INTEGER NOT NULL REFERENCES tasks (seq),
    worker_id  TEXT    NOT NULL REFERENCES workers (id),
    proposer   TEXT    NOT NULL,
    login      TEXT,
    plan       TEXT    NOT NULL,
    state      TEXT    NOT NULL DEFAULT 'open' CHECK (state IN
                 ('open', 'approved', 'declined', 'not_chosen', 'withdrawn', 'expired')),
    reason     TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    ended_at   INTEGER,
    recorded   INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX proposals_task ON proposals (task_seq, state);
CREATE INDEX proposals_proposer ON proposals (proposer, state);
CREATE INDEX proposals_worker ON proposals (worker_id, state);
CREATE INDEX proposals_open ON proposals (expires_at) WHERE state = 'open';
CREATE INDEX proposals_unrecorded ON proposals (seq) WHERE recorded = 0;

-- A task that leaves `ready` (whoever moves it, on whichever path) ends its open proposals. The
-- approval itself ends the others as `not_chosen` before it takes the task.
CREATE TRIGGER tasks_proposals_expire AFTER UPDATE OF status ON tasks
WHEN OLD.status = 'ready' AND NEW.status <> 'ready'
BEGIN
    UPDATE proposals SET state = 'expired', ended_at = NEW.updated_at, recorded = 0
        WHERE task_seq = NEW.seq AND state = 'open';
END;
