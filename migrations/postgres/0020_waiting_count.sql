-- A task's blockers that still hold it, kept on the task row (PostgreSQL; see
-- migrations/sqlite/0020_waiting_count.sql for why).
--
-- Under concurrency: the triggers add and subtract on the dependant's row, which a concurrent
-- writer's update re-reads after the first commits, so two merges that free one task each take
-- their own blocker off. A new dependency reads its blocker's status `FOR SHARE`: a merge of that
-- blocker in flight either commits first (the new row sees `merged` and adds nothing) or waits
-- for the new row to commit (and then its trigger, in a statement of its own, sees the row and
-- takes it off).
ALTER TABLE tasks ADD COLUMN waiting INTEGER NOT NULL DEFAULT 0;

UPDATE tasks SET waiting = w.n FROM (
    SELECT d.task_seq, COUNT(*) AS n FROM task_deps d LEFT JOIN tasks b ON b.seq = d.blocker_seq
    WHERE d.blocker_seq IS NULL AND d.holds = 1
        OR d.blocker_seq IS NOT NULL AND b.status NOT IN ('merged', 'cancelled')
    GROUP BY d.task_seq) w
WHERE tasks.seq = w.task_seq;

DROP INDEX tasks_ready_queue;
CREATE INDEX tasks_ready_queue ON tasks (priority DESC, seq) WHERE status = 'ready' AND waiting = 0;

-- 1 when the dependency row holds its task, else 0; locks a blocker task against a concurrent
-- status move until this transaction ends.
CREATE FUNCTION owp_dep_holds(blocker bigint, holds bigint) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    s text;
BEGIN
    IF blocker IS NULL THEN
        RETURN CASE WHEN holds = 1 THEN 1 ELSE 0 END;
    END IF;
    SELECT status INTO s FROM tasks WHERE seq = blocker FOR SHARE;
    RETURN CASE WHEN s IN ('merged', 'cancelled') THEN 0 ELSE 1 END;
END
$$;

CREATE FUNCTION owp_task_deps_waiting() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE tasks SET waiting = waiting - owp_dep_holds(OLD.blocker_seq, OLD.holds)
        WHERE seq = OLD.task_seq;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        UPDATE tasks SET waiting = waiting + owp_dep_holds(NEW.blocker_seq, NEW.holds)
        WHERE seq = NEW.task_seq;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER task_deps_waiting AFTER INSERT OR DELETE OR UPDATE OF task_seq, blocker_seq, holds
    ON task_deps FOR EACH ROW EXECUTE FUNCTION owp_task_deps_waiting();

CREATE FUNCTION owp_blocker_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE tasks t SET waiting = t.waiting
        + CASE WHEN NEW.status IN ('merged', 'cancelled') THEN -1 ELSE 1 END * d.n
    FROM (SELECT task_seq, COUNT(*) AS n FROM task_deps WHERE blocker_seq = NEW.seq
          GROUP BY task_seq) d
    WHERE t.seq = d.task_seq;
    RETURN NULL;
END
$$;

-- Moves between other statuses (every claim) do not call the function.
CREATE TRIGGER tasks_waiting_blocker AFTER UPDATE OF status ON tasks
    FOR EACH ROW WHEN ((OLD.status IN ('merged', 'cancelled')) <> (NEW.status IN ('merged', 'cancelled')))
    EXECUTE FUNCTION owp_blocker_moved();
