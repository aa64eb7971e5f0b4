-- A task's blockers that still hold it, kept on the task row (rule 8, contract section 8).
--
-- The claim tested `NOT EXISTS` over `task_deps` for every ready task ahead in the offer order,
-- so 10,000 waiting tasks of high priority made every claim walk past all of them. `waiting` is
-- now the number of the task's blockers that hold it, kept by the triggers below, and the ready
-- queue's index holds only tasks with none: a waiting task is not in the claim's scan at all.
--
-- A blocker holds as before: a task of the pool until it is `merged` or `cancelled`, one outside
-- the pool (`blocker_seq` NULL) while `holds` = 1. The triggers add and subtract (never
-- recount), so two writers that free the same task each take their own blocker off.
ALTER TABLE tasks ADD COLUMN waiting INTEGER NOT NULL DEFAULT 0;

UPDATE tasks SET waiting = (
    SELECT COUNT(*) FROM task_deps d LEFT JOIN tasks b ON b.seq = d.blocker_seq
    WHERE d.task_seq = tasks.seq AND (d.blocker_seq IS NULL AND d.holds = 1
        OR d.blocker_seq IS NOT NULL AND b.status NOT IN ('merged', 'cancelled')));

DROP INDEX tasks_ready_queue;
CREATE INDEX tasks_ready_queue ON tasks (priority DESC, seq) WHERE status = 'ready' AND waiting = 0;

CREATE TRIGGER task_deps_waiting_insert AFTER INSERT ON task_deps
WHEN NEW.blocker_seq IS NULL AND NEW.holds = 1
    OR NEW.blocker_seq IS NOT NULL
        AND (SELECT status FROM tasks WHERE seq = NEW.blocker_seq) NOT IN ('merged', 'cancelled')
BEGIN
    UPDATE tasks SET waiting = waiting + 1 WHERE seq = NEW.task_seq;
END;

CREATE TRIGGER task_deps_waiting_delete AFTER DELETE ON task_deps
WHEN OLD.blocker_seq IS NULL AND OLD.holds = 1
    OR OLD.blocker_seq IS NOT NULL
        AND (SELECT status FROM tasks WHERE seq = OLD.blocker_seq) NOT IN ('merged', 'cancelled')
BEGIN
    UPDATE tasks SET waiting = waiting - 1 WHERE seq = OLD.task_seq;
END;

-- A dependency row changes when its outside blocker closes or reopens (`holds`), or when the
-- blocker it names becomes a task of the pool (`blocker_seq`).
CREATE TRIGGER task_deps_waiting_update AFTER UPDATE OF task_seq, blocker_seq, holds ON task_deps
BEGIN
    UPDATE tasks SET waiting = waiting - 1 WHERE seq = OLD.task_seq
        AND (OLD.blocker_seq IS NULL AND OLD.holds = 1
            OR OLD.blocker_seq IS NOT NULL AND (SELECT status FROM tasks WHERE seq = OLD.blocker_seq)
                NOT IN ('merged', 'cancelled'));
    UPDATE tasks SET waiting = waiting + 1 WHERE seq = NEW.task_seq
        AND (NEW.blocker_seq IS NULL AND NEW.holds = 1
            OR NEW.blocker_seq IS NOT NULL AND (SELECT status FROM tasks WHERE seq = NEW.blocker_seq)
                NOT IN ('merged', 'cancelled'));
END;

-- A blocker that is merged or cancelled frees its dependants; one that comes back holds them
-- again. Moves between other statuses (every claim) do not run this trigger.
CREATE TRIGGER tasks_waiting_blocker AFTER UPDATE OF status ON tasks
WHEN (OLD.status IN ('merged', 'cancelled')) <> (NEW.status IN ('merged', 'cancelled'))
BEGIN
    UPDATE tasks SET waiting = waiting
        + CASE WHEN NEW.status IN ('merged', 'cancelled') THEN -1 ELSE 1 END
          * (SELECT COUNT(*) FROM task_deps d WHERE d.blocker_seq = NEW.seq AND d.task_seq = tasks.seq)
    WHERE seq IN (SELECT task_seq FROM task_deps WHERE blocker_seq = NEW.seq);
END;
