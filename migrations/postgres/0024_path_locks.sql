-- Path locks (rule 10, contract section 11): the paths a task changes.
--
-- One row per pattern and per prefix of its base (`src/auth/**` → ``, `src`, `src/auth`, the last
-- `exact`), so that two patterns overlap exactly when they share a `prefix` and at least one of
-- the two rows is exact: the claim tests that with equality on an index (`domain::paths`).
-- `held` is 1 while the task is in flight (`leased`, `in_progress`, `pr_opened`, or `blocked` by
-- its holder and waiting for a maintainer); the trigger below keeps it, so every move of a task,
-- whoever makes it, takes or frees its paths in the same statement. Only held rows are indexed
-- by repository and prefix for the claim; a second index of every row finds who waits on whom.
-- `source` is `declared` (the import, the issue's `Paths:` line) or `pr` (the files of its
-- linked pull request, replaced when it is pushed and dropped when it closes).
CREATE TABLE task_paths (
    task_seq BIGINT  NOT NULL REFERENCES tasks (seq),
    repo_id  BIGINT  NOT NULL,
    source   TEXT    NOT NULL CHECK (source IN ('declared', 'pr')),
    pattern  TEXT    NOT NULL,
    prefix   TEXT    NOT NULL,
    exact    INTEGER NOT NULL,
    held     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (task_seq, source, pattern, prefix)
);

CREATE INDEX task_paths_held ON task_paths (repo_id, prefix, exact) WHERE held = 1;
-- Who waits on a task's paths (every row, held or not), to tell them when the task lets go.
CREATE INDEX task_paths_prefix ON task_paths (repo_id, prefix, exact);

-- Two claims that start together each read, in their own snapshot, that the other's paths are
-- free. So a claim (`ready` → `leased`) of a task with paths checks again here: it locks the
-- repository's row (which the claim statement has already locked for the review budget, so a
-- second claim of the same repository waits here until the first commits), then looks for an
-- overlapping held path in a statement of its own, which sees every claim committed before it.
-- An overlap fails the claim with the constraint name `task_paths_overlap`; the store takes that
-- as a lost race and claims again on a new snapshot, whose condition leaves the task out.
-- Other moves into flight (a pull request opened on a ready task) take the paths as they are.
CREATE FUNCTION owp_path_locks() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    holds boolean := NEW.status IN ('leased', 'in_progress', 'pr_opened') OR NEW.awaits_maintainer = 1;
BEGIN
    IF holds = (OLD.status IN ('leased', 'in_progress', 'pr_opened') OR OLD.awaits_maintainer = 1) THEN
        RETURN NULL;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM task_paths WHERE task_seq = NEW.seq) THEN
        RETURN NULL;
    END IF;
    IF holds AND OLD.status = 'ready' AND NEW.status = 'leased' THEN
        PERFORM 1 FROM repos WHERE id = NEW.repo_id FOR UPDATE;
        -- The two halves of `held_overlapping!` (src/store/paths.rs).
        IF EXISTS (
            SELECT 1 FROM task_paths m JOIN task_paths h ON h.repo_id = m.repo_id
                AND h.prefix = m.prefix AND h.held = 1 AND h.task_seq <> m.task_seq
            WHERE m.task_seq = NEW.seq AND m.exact = 1
            UNION ALL
            SELECT 1 FROM task_paths m JOIN task_paths h ON h.repo_id = m.repo_id
                AND h.prefix = m.prefix AND h.held = 1 AND h.exact = 1 AND h.task_seq <> m.task_seq
            WHERE m.task_seq = NEW.seq) THEN
            RAISE EXCEPTION 'another task in flight holds an overlapping path'
                USING ERRCODE = 'check_violation', CONSTRAINT = 'task_paths_overlap';
        END IF;
    END IF;
    UPDATE task_paths SET held = CASE WHEN holds THEN 1 ELSE 0 END WHERE task_seq = NEW.seq;
    RETURN NULL;
END;
$$;

CREATE TRIGGER tasks_path_locks AFTER UPDATE OF status, awaits_maintainer ON tasks
FOR EACH ROW EXECUTE FUNCTION owp_path_locks();
