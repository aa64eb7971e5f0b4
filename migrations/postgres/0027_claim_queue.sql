-- The claim's narrow queue, heap-only lease renewals, and a path-lock trigger that runs only when a
-- task moves into or out of flight (PostgreSQL).
--
-- A claim walks the ready tasks in offer order. On `tasks` that walk passed, at the head of the
-- queue, the index entries of tasks claimed moments ago: their rows stay in the index until no
-- snapshot can see them, and each entry cost a visit to a wide row (one page each). `task_queue`
-- holds one narrow row per claimable task (`ready`, waiting on nothing) with just what the rules
-- of a claim read of it, about a hundred rows to a page: the entries a claim steps over land on a
-- handful of pages. The claim picks and locks a row here and moves the task out of `ready`; the
-- trigger below keeps the queue in step with every change of `tasks`, whoever makes it, in the
-- same statement. SQLite needs no such table: its index holds no entry of a row that changed.
CREATE TABLE task_queue (
    seq             BIGINT PRIMARY KEY,
    repo_id         BIGINT NOT NULL,
    priority        BIGINT NOT NULL,
    skill_set_id    BIGINT NOT NULL,
    estimate_points BIGINT NOT NULL,
    tier            BIGINT NOT NULL,
    area            TEXT,
    requires        TEXT   NOT NULL
);

-- The offer order (`claim_rules::OFFER_ORDER`).
CREATE INDEX task_queue_offer ON task_queue (priority DESC, seq);

INSERT INTO task_queue (seq, repo_id, priority, skill_set_id, estimate_points, tier, area, requires)
SELECT seq, repo_id, priority, skill_set_id, estimate_points, tier, area, requires
FROM tasks WHERE status = 'ready' AND waiting = 0;

CREATE FUNCTION owp_task_queue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR NOT (NEW.status = 'ready' AND NEW.waiting = 0) THEN
        DELETE FROM task_queue WHERE seq = OLD.seq;
    ELSIF TG_OP = 'INSERT' OR NOT (OLD.status = 'ready' AND OLD.waiting = 0) THEN
        INSERT INTO task_queue (seq, repo_id, priority, skill_set_id, estimate_points, tier, area,
                                requires)
        VALUES (NEW.seq, NEW.repo_id, NEW.priority, NEW.skill_set_id, NEW.estimate_points,
                NEW.tier, NEW.area, NEW.requires);
    ELSIF (NEW.repo_id, NEW.priority, NEW.skill_set_id, NEW.estimate_points, NEW.tier, NEW.area,
           NEW.requires)
          IS DISTINCT FROM (OLD.repo_id, OLD.priority, OLD.skill_set_id, OLD.estimate_points,
                            OLD.tier, OLD.area, OLD.requires) THEN
        UPDATE task_queue SET repo_id = NEW.repo_id, priority = NEW.priority,
            skill_set_id = NEW.skill_set_id, estimate_points = NEW.estimate_points,
            tier = NEW.tier, area = NEW.area, requires = NEW.requires
        WHERE seq = NEW.seq;
    END IF;
    RETURN NULL;
END
$$;

-- Only rows that are, or were, claimable call the function: a move between two statuses in
-- flight (an ack, a pull request opened) and a renewal do not.
CREATE TRIGGER tasks_queue_insert AFTER INSERT ON tasks
    FOR EACH ROW WHEN (NEW.status = 'ready' AND NEW.waiting = 0)
    EXECUTE FUNCTION owp_task_queue();
CREATE TRIGGER tasks_queue_update AFTER UPDATE ON tasks
    FOR EACH ROW WHEN ((OLD.status = 'ready' AND OLD.waiting = 0)
                       OR (NEW.status = 'ready' AND NEW.waiting = 0))
    EXECUTE FUNCTION owp_task_queue();
CREATE TRIGGER tasks_queue_delete AFTER DELETE ON tasks
    FOR EACH ROW WHEN (OLD.status = 'ready' AND OLD.waiting = 0)
    EXECUTE FUNCTION owp_task_queue();

-- Every heartbeat and renewal moves the deadline of the worker's leases, and `tasks_deadline`
-- made each of those a new row version with an entry in every index of the table. The sweep
-- finds tasks in flight through an index that holds no column a renewal writes (the status
-- does not change); with room left on the page (fillfactor) the renewal is a heap-only update.
DROP INDEX tasks_deadline;
CREATE INDEX tasks_in_flight ON tasks (seq) WHERE status IN ('leased', 'in_progress');
ALTER TABLE tasks SET (fillfactor = 80);

-- The path-lock function ran for every move of a task only to return at once for a move within
-- flight (an ack, a pull request opened): the trigger's condition now says so, as on SQLite.
DROP TRIGGER tasks_path_locks ON tasks;
CREATE TRIGGER tasks_path_locks AFTER UPDATE OF status, awaits_maintainer ON tasks
    FOR EACH ROW WHEN ((OLD.status IN ('leased', 'in_progress', 'pr_opened') OR OLD.awaits_maintainer = 1)
                       <> (NEW.status IN ('leased', 'in_progress', 'pr_opened') OR NEW.awaits_maintainer = 1))
    EXECUTE FUNCTION owp_path_locks();
