-- Whether a task has paths (`task_paths`), kept on the task and on its row of the claim's queue,
-- so that a task without paths costs the path rule and the path locks nothing: the claim's plain
-- statement leaves rule 10 out for it (`claim_rules::PATHS_OFF`, a switched rule), and the
-- path-lock trigger runs only for a task that has paths. `Store::set_task_paths`, the one writer
-- of `task_paths`, keeps it. The queue's function below is 0034's with the column added.
ALTER TABLE tasks ADD COLUMN has_paths BIGINT NOT NULL DEFAULT 0;
ALTER TABLE task_queue ADD COLUMN has_paths BIGINT NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION owp_task_queue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR NOT (NEW.status = 'ready' AND NEW.waiting = 0) THEN
        DELETE FROM task_queue WHERE seq = OLD.seq;
    ELSIF TG_OP = 'INSERT' OR NOT (OLD.status = 'ready' AND OLD.waiting = 0) THEN
        INSERT INTO task_queue (seq, repo_id, priority, skill_set_id, estimate_points, tier, area,
                                requires, first_timers, has_paths)
        VALUES (NEW.seq, NEW.repo_id, NEW.priority, NEW.skill_set_id, NEW.estimate_points,
                NEW.tier, NEW.area, NEW.requires, NEW.first_timers, NEW.has_paths);
    ELSIF (NEW.repo_id, NEW.priority, NEW.skill_set_id, NEW.estimate_points, NEW.tier, NEW.area,
           NEW.requires, NEW.first_timers, NEW.has_paths)
          IS DISTINCT FROM (OLD.repo_id, OLD.priority, OLD.skill_set_id, OLD.estimate_points,
                            OLD.tier, OLD.area, OLD.requires, OLD.first_timers, OLD.has_paths) THEN
        UPDATE task_queue SET repo_id = NEW.repo_id, priority = NEW.priority,
            skill_set_id = NEW.skill_set_id, estimate_points = NEW.estimate_points,
            tier = NEW.tier, area = NEW.area, requires = NEW.requires,
            first_timers = NEW.first_timers, has_paths = NEW.has_paths
        WHERE seq = NEW.seq;
    END IF;
    RETURN NULL;
END
$$;

UPDATE tasks SET has_paths = 1
WHERE EXISTS (SELECT 1 FROM task_paths p WHERE p.task_seq = tasks.seq);
UPDATE task_queue SET has_paths = 1
WHERE EXISTS (SELECT 1 FROM task_paths p WHERE p.task_seq = task_queue.seq);

-- 0027's trigger, for tasks that have paths only.
DROP TRIGGER tasks_path_locks ON tasks;
CREATE TRIGGER tasks_path_locks AFTER UPDATE OF status, awaits_maintainer ON tasks
    FOR EACH ROW WHEN (NEW.has_paths = 1
                       AND (OLD.status IN ('leased', 'in_progress', 'pr_opened') OR OLD.awaits_maintainer = 1)
                       <> (NEW.status IN ('leased', 'in_progress', 'pr_opened') OR NEW.awaits_maintainer = 1))
    EXECUTE FUNCTION owp_path_locks();
