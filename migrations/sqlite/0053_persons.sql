-- A person is a record (contract section 14; SQLite, the same change for PostgreSQL is in
-- migrations/postgres): what the pool remembers about a person is kept by their GitHub account
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
    account_id    INTEGER PRIMARY KEY,
    login         TEXT    NOT NULL,
    first_seen_at INTEGER NOT NULL
);
INSERT INTO persons (account_id, login, first_seen_at)
SELECT w.github_account_id, w.github_login, MIN(w.created_at)
  FROM workers w WHERE w.github_account_id IS NOT NULL AND w.github_login IS NOT NULL
 GROUP BY w.github_account_id;
INSERT OR IGNORE INTO persons (account_id, login, first_seen_at)
SELECT gl.account_id, gl.login, gl.linked_at FROM gh_links gl WHERE gl.account_id IS NOT NULL;
INSERT OR IGNORE INTO persons (account_id, login, first_seen_at)
SELECT ga.account_id, ga.login, ga.read_at FROM gh_accounts ga;

-- The person each lease, give-back and outcome was for (NULL: an unlinked worker's), recorded
-- when it is written: the rules about people read the history by the person
-- (`store::leases::claim_rules::by_person`). Kept history takes its worker's person now.
ALTER TABLE leases ADD COLUMN person_id INTEGER;
ALTER TABLE nacks ADD COLUMN person_id INTEGER;
ALTER TABLE outcomes ADD COLUMN person_id INTEGER;
UPDATE leases SET person_id = (SELECT w.github_account_id FROM workers w
                                WHERE w.id = leases.worker_id);
UPDATE nacks SET person_id = (SELECT w.github_account_id FROM workers w
                               WHERE w.id = nacks.worker_id);
UPDATE outcomes SET person_id = COALESCE(
    (SELECT l.person_id FROM leases l WHERE l.id = outcomes.lease_id),
    (SELECT w.github_account_id FROM workers w WHERE w.id = outcomes.worker_id));

-- An outcome is written by the trigger of migration 0012 from its audit event: it takes the
-- person of its lease, or else the person its worker speaks for.
CREATE TRIGGER outcomes_person AFTER INSERT ON outcomes WHEN NEW.person_id IS NULL
BEGIN
    UPDATE outcomes SET person_id = COALESCE(
        (SELECT l.person_id FROM leases l WHERE l.id = NEW.lease_id),
        (SELECT w.github_account_id FROM workers w WHERE w.id = NEW.worker_id))
     WHERE kind = NEW.kind AND task_id = NEW.task_id AND lease_id = NEW.lease_id;
END;

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
ALTER TABLE repos ADD COLUMN max_claims_per_user INTEGER;
