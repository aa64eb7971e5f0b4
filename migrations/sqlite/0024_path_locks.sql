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
    task_seq INTEGER NOT NULL REFERENCES tasks (seq),
    repo_id  INTEGER NOT NULL,
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

-- SQLite's writers are serialised, so the claim's own condition sees every lock: no check here.
CREATE TRIGGER tasks_path_locks AFTER UPDATE OF status, awaits_maintainer ON tasks
WHEN (OLD.status IN ('leased', 'in_progress', 'pr_opened') OR OLD.awaits_maintainer = 1)
    <> (NEW.status IN ('leased', 'in_progress', 'pr_opened') OR NEW.awaits_maintainer = 1)
BEGIN
    UPDATE task_paths
    SET held = CASE WHEN NEW.status IN ('leased', 'in_progress', 'pr_opened')
        OR NEW.awaits_maintainer = 1 THEN 1 ELSE 0 END
    WHERE task_seq = NEW.seq;
END;
