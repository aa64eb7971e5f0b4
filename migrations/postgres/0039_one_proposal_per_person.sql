-- A person proposes once per task (contract section 12, rule 11: proposals count per person).
--
-- A person may propose by comment (their implicit worker) and through a worker linked to their
-- GitHub login: both are the proposer `github:LOGIN`, and the second open proposal of one
-- proposer for one task is refused, as a worker's second one always was. The insert's condition
-- (`store::proposals`) reads its own snapshot, so two that start together could both pass; this
-- recheck runs under the task row's lock, which the limit trigger of migration 0037 already takes
-- (every proposal of a task waits for the one before it), and counts in a statement of its own,
-- which sees every proposal committed before. It refuses with the constraint name
-- `proposals_once`. SQLite needs no trigger: its writers are serialised.
CREATE OR REPLACE FUNCTION owp_proposals_limit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    on_task bigint;
    of_proposer bigint;
    own bigint;
BEGIN
    PERFORM 1 FROM workers WHERE id = NEW.worker_id FOR UPDATE;
    PERFORM 1 FROM gh_links WHERE login = NEW.login FOR UPDATE;
    PERFORM 1 FROM tasks WHERE seq = NEW.task_seq FOR UPDATE;
    SELECT COUNT(*) INTO own FROM proposals p
        WHERE p.task_seq = NEW.task_seq AND p.state = 'open' AND p.expires_at > NEW.created_at
          AND (p.proposer = NEW.proposer OR p.worker_id = NEW.worker_id) AND p.seq <> NEW.seq;
    IF own > 0 THEN
        RAISE EXCEPTION 'already proposed on this task'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'proposals_once';
    END IF;
    SELECT COUNT(*) INTO on_task FROM proposals p JOIN tasks t ON t.seq = p.task_seq
        WHERE p.task_seq = NEW.task_seq AND p.state = 'open' AND p.expires_at > NEW.created_at
          AND t.status = 'ready' AND p.seq <> NEW.seq;
    SELECT COUNT(*) INTO of_proposer FROM proposals p JOIN tasks t ON t.seq = p.task_seq
        WHERE p.proposer = NEW.proposer AND p.state = 'open' AND p.expires_at > NEW.created_at
          AND t.status = 'ready' AND p.seq <> NEW.seq;
    IF on_task >= 5 OR of_proposer >= 3 THEN
        RAISE EXCEPTION 'too many open proposals'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'proposals_limit';
    END IF;
    RETURN NEW;
END;
$$;
