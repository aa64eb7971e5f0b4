-- Reputation, trust progression and credit (PostgreSQL). The same schema exists for SQLite in
-- migrations/sqlite; the comments there explain it.
ALTER TABLE workers ADD COLUMN reputation_opt_in BIGINT NOT NULL DEFAULT 0;
ALTER TABLE workers ADD COLUMN leaderboard_opt_in BIGINT NOT NULL DEFAULT 0;

CREATE TABLE repo_promotions (
    repo_id BIGINT NOT NULL REFERENCES repos (id),
    level   BIGINT NOT NULL CHECK (level BETWEEN 1 AND 1000),
    merged  BIGINT NOT NULL CHECK (merged BETWEEN 1 AND 10000),
    PRIMARY KEY (repo_id, level)
);

CREATE TABLE outcomes (
    kind      TEXT   NOT NULL CHECK (kind IN ('merged', 'closed_unmerged', 'expired', 'nacked')),
    task_id   TEXT   NOT NULL,
    lease_id  TEXT   NOT NULL,
    worker_id TEXT   NOT NULL,
    repo_id   BIGINT,
    event_id  BIGINT NOT NULL,
    at        BIGINT NOT NULL,
    PRIMARY KEY (kind, task_id, lease_id)
);

CREATE INDEX outcomes_worker ON outcomes (worker_id, kind, repo_id);
CREATE INDEX outcomes_repo ON outcomes (repo_id, kind, at);

CREATE FUNCTION owp_record_outcome() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d jsonb;
    k text;
BEGIN
    IF NEW.worker_id IS NULL OR NEW.task_id IS NULL THEN
        RETURN NULL;
    END IF;
    d := NEW.data::jsonb;
    IF NEW.kind = 'lease.expired' THEN
        k := 'expired';
    ELSIF NEW.kind = 'lease.nacked' THEN
        k := 'nacked';
    ELSIF NEW.kind = 'task.status' AND NEW.actor NOT LIKE 'worker:%' THEN
        IF d->>'status' = 'merged' THEN
            k := 'merged';
        ELSIF d->>'from' = 'pr_opened' AND d->>'status' IN ('ready', 'cancelled') THEN
            k := 'closed_unmerged';
        END IF;
    END IF;
    IF k IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO outcomes (kind, task_id, lease_id, worker_id, repo_id, event_id, at)
    VALUES (k, NEW.task_id, COALESCE(d->>'lease_id', ''), NEW.worker_id,
            (SELECT id FROM repos WHERE name = NEW.repo), NEW.id, NEW.at)
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

CREATE TRIGGER events_outcome AFTER INSERT ON events
    FOR EACH ROW WHEN (NEW.kind IN ('lease.expired', 'lease.nacked', 'task.status'))
    EXECUTE FUNCTION owp_record_outcome();
