-- Path locks (rule 10): the recheck of migration 0024 under the repository's lock looks for an
-- overlapping held path with the very text of the claim's condition
-- (`store::path_overlap::held_overlapping!` for the task being claimed), instead of a copy of
-- it; a test of `store::path_overlap` keeps the function in force equal to that text. What the
-- function does is 0024's.
CREATE OR REPLACE FUNCTION owp_path_locks() RETURNS trigger
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
        IF EXISTS (
            SELECT h.task_seq, h.pattern FROM task_paths m
              JOIN task_paths h ON h.repo_id = m.repo_id AND h.prefix = m.prefix
                AND h.task_seq <> m.task_seq AND h.held = 1
            WHERE m.task_seq = NEW.seq AND m.exact = 1
            UNION ALL
            SELECT h.task_seq, h.pattern FROM task_paths m
              JOIN task_paths h ON h.repo_id = m.repo_id AND h.prefix = m.prefix
                AND h.task_seq <> m.task_seq AND h.held = 1 AND h.exact = 1
            WHERE m.task_seq = NEW.seq) THEN
            RAISE EXCEPTION 'another task in flight holds an overlapping path'
                USING ERRCODE = 'check_violation', CONSTRAINT = 'task_paths_overlap';
        END IF;
    END IF;
    UPDATE task_paths SET held = CASE WHEN holds THEN 1 ELSE 0 END WHERE task_seq = NEW.seq;
    RETURN NULL;
END;
$$;
