-- One person, proven (contract section 14; PostgreSQL, the same change for SQLite is in
-- migrations/sqlite).
--
-- A login typed at registration proves nothing: it moves to `claimed_login`, shown only as
-- unverified, and `github_login` holds only a proven login (a link, or a person's own comment
-- worker), always beside the account id it belongs to.
ALTER TABLE workers ADD COLUMN claimed_login TEXT;
UPDATE workers SET claimed_login = github_login, github_login = NULL
 WHERE github_login IS NOT NULL AND github_account_id IS NULL AND token_hash IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM gh_links l WHERE l.worker_id = workers.id);

-- A proposal's proposer is a person, `github:ACCOUNT_ID`, or an unlinked worker, `worker:ID`;
-- `login` is the person's login when proposed (for the words of replies only). Proposals
-- recorded under a login take their worker's account id, or become the worker's own.
UPDATE proposals SET proposer = COALESCE(
        (SELECT 'github:' || w.github_account_id FROM workers w
          WHERE w.id = proposals.worker_id AND w.github_account_id IS NOT NULL),
        'worker:' || worker_id),
    login = (SELECT w.github_login FROM workers w
              WHERE w.id = proposals.worker_id AND w.github_account_id IS NOT NULL)
 WHERE proposer LIKE 'github:%';

-- The recheck of migration 0039 serialises the proposals of one proposer by the proposer itself
-- (a transaction-scoped lock on its key), whichever worker of the person proposes, instead of a
-- link's row, which a person proposing by comment does not have.
CREATE OR REPLACE FUNCTION owp_proposals_limit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    on_task bigint;
    of_proposer bigint;
    own bigint;
BEGIN
    PERFORM 1 FROM workers WHERE id = NEW.worker_id FOR UPDATE;
    PERFORM pg_advisory_xact_lock(hashtext('owp.proposer:' || NEW.proposer));
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
