-- A person is a record (contract section 14; PostgreSQL, the same change for SQLite is in
-- migrations/sqlite): what the pool remembers about a person is kept by their GitHub account
-- id, not on the worker that spoke for them then, so it survives a new worker, a relink and a
-- rename. A worker is one of a person's machines: capacity and concurrency stay per worker.

-- One definition of the person of a worker: `workers.github_account_id`, written only by a proof
-- (a link, `gh_links`, or the person's own comments, their implicit worker). A registered worker
-- whose account id no link of that account backs speaks for nobody.
UPDATE workers SET github_account_id = NULL
 WHERE token_hash IS NOT NULL AND github_account_id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM gh_links gl WHERE gl.worker_id = workers.id
                   AND gl.account_id = workers.github_account_id);

-- Every person the pool has met: `login` as GitHub last sent it (shown, never looked up),
-- `first_seen_at` when the pool first met the account.
CREATE TABLE persons (
    account_id    BIGINT PRIMARY KEY,
    login         TEXT   NOT NULL,
    first_seen_at BIGINT NOT NULL
);
INSERT INTO persons (account_id, login, first_seen_at)
SELECT DISTINCT ON (w.github_account_id) w.github_account_id, w.github_login, w.created_at
  FROM workers w WHERE w.github_account_id IS NOT NULL AND w.github_login IS NOT NULL
 ORDER BY w.github_account_id, w.created_at;
INSERT INTO persons (account_id, login, first_seen_at)
SELECT gl.account_id, gl.login, gl.linked_at FROM gh_links gl WHERE gl.account_id IS NOT NULL
ON CONFLICT (account_id) DO NOTHING;
INSERT INTO persons (account_id, login, first_seen_at)
SELECT ga.account_id, ga.login, ga.read_at FROM gh_accounts ga
ON CONFLICT (account_id) DO NOTHING;

-- The person each lease, give-back and outcome was for (NULL: an unlinked worker's), recorded
-- when it is written: the rules about people read the history by the person
-- (`store::leases::claim_rules::by_person`). Kept history takes its worker's person now.
ALTER TABLE leases ADD COLUMN person_id BIGINT;
ALTER TABLE nacks ADD COLUMN person_id BIGINT;
ALTER TABLE outcomes ADD COLUMN person_id BIGINT;
UPDATE leases SET person_id = w.github_account_id FROM workers w
 WHERE w.id = leases.worker_id AND w.github_account_id IS NOT NULL;
UPDATE nacks SET person_id = w.github_account_id FROM workers w
 WHERE w.id = nacks.worker_id AND w.github_account_id IS NOT NULL;
UPDATE outcomes SET person_id = COALESCE(
    (SELECT l.person_id FROM leases l WHERE l.id = outcomes.lease_id),
    (SELECT w.github_account_id FROM workers w WHERE w.id = outcomes.worker_id));

-- An outcome is written by the trigger of migration 0012 from its audit event: it takes the
-- person of its lease, or else the person its worker speaks for.
CREATE FUNCTION owp_outcome_person() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.person_id IS NULL THEN
        NEW.person_id := COALESCE(
            (SELECT l.person_id FROM leases l WHERE l.id = NEW.lease_id),
            (SELECT w.github_account_id FROM workers w WHERE w.id = NEW.worker_id));
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER outcomes_person BEFORE INSERT ON outcomes
    FOR EACH ROW EXECUTE FUNCTION owp_outcome_person();

-- The person's history, by repository: a cool-down, a first timer's merges, a promotion's
-- merges, a give-back and the claims a person holds are each one probe.
CREATE INDEX leases_person_ended_without_pr ON leases (person_id, repo_id, ended_at)
    WHERE person_id IS NOT NULL AND outcome IN ('nacked', 'expired');
CREATE INDEX leases_person_live ON leases (person_id, repo_id)
    WHERE person_id IS NOT NULL AND ended_at IS NULL;
CREATE INDEX outcomes_person ON outcomes (person_id, kind, repo_id) WHERE person_id IS NOT NULL;
CREATE INDEX nacks_person ON nacks (task_seq, person_id) WHERE person_id IS NOT NULL;

-- `max_claims_per_user` of `.github/owp.yml`: how many claims one person holds at once in the
-- repository, on all their workers and comment claims together (NULL: no such limit, a
-- repository without the App).
ALTER TABLE repos ADD COLUMN max_claims_per_user BIGINT;

-- The claim's condition `PersonClaimsRoom` (`store::leases::claim_rules::person_claims_room`),
-- read again under the person's row lock when the lease is written: two workers of one person
-- that claim together both see the same count in their statements' snapshots. The condition
-- below is a copy of the claim's text for the lease's person (a unit test keeps the two equal).
-- A claim it refuses fails with the constraint name `persons_claims`; the store claims again,
-- and the new snapshot's condition refuses it. SQLite needs no trigger: its writers are
-- serialised.
CREATE FUNCTION owp_person_claims() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    room boolean;
BEGIN
    IF NEW.person_id IS NULL
       OR (SELECT max_claims_per_user FROM repos WHERE id = NEW.repo_id) IS NULL THEN
        RETURN NEW;
    END IF;
    PERFORM 1 FROM persons WHERE account_id = NEW.person_id FOR UPDATE;
    SELECT (r.max_claims_per_user IS NULL OR NEW.person_id IS NULL OR (SELECT COUNT(*) FROM leases ml WHERE ml.person_id = NEW.person_id AND ml.repo_id = r.id AND ml.ended_at IS NULL) < r.max_claims_per_user)
    INTO room FROM repos r WHERE r.id = NEW.repo_id;
    IF NOT room THEN
        RAISE EXCEPTION 'the person holds as many claims as the repository allows'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'persons_claims';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER leases_person_claims BEFORE INSERT ON leases
    FOR EACH ROW EXECUTE FUNCTION owp_person_claims();
