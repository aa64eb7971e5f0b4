-- A reviewer is a person (contract section 14; PostgreSQL, the same change for SQLite is in
-- migrations/sqlite): a repository's settings list reviewers by login, and the pool keeps the
-- GitHub account each listed login was resolved to. Away, open reviews and assignment follow the
-- account: a reviewer who renames keeps them, and a new account that takes a freed login is not
-- the reviewer the login named.
--
-- `account_id`: the account the listed login (`login_key`) was resolved to, from what the App
-- knew (a person GitHub named in a delivery, `persons`) or by asking GitHub; kept while the
-- settings list that login. NULL: not resolved yet, and then the row counts as no reviewer with
-- room (rule 13 and the assignment read `store::leases::claim_rules::present`).
-- `account_login`: the login GitHub last gave for that account (shown; NULL: the listed one).
ALTER TABLE repo_reviewers ADD COLUMN account_id BIGINT;
ALTER TABLE repo_reviewers ADD COLUMN account_login TEXT;
-- One row per person of a repository; found by the account when GitHub names it.
CREATE UNIQUE INDEX repo_reviewers_person ON repo_reviewers (account_id, repo_id)
    WHERE account_id IS NOT NULL;
-- The rows still to resolve, found by their login when GitHub names that login.
CREATE INDEX repo_reviewers_unresolved ON repo_reviewers (login_key) WHERE account_id IS NULL;

-- The account of the reviewer of each pull request: open reviews are counted by it.
ALTER TABLE task_reviews ADD COLUMN reviewer_id BIGINT;

-- What the pool already knows: a listed login that names exactly one person it has met.
UPDATE repo_reviewers SET account_id =
       (SELECT p.account_id FROM persons p WHERE lower(p.login) = repo_reviewers.login_key)
 WHERE (SELECT COUNT(*) FROM persons p WHERE lower(p.login) = repo_reviewers.login_key) = 1;
UPDATE task_reviews SET reviewer_id =
       (SELECT rv.account_id FROM repo_reviewers rv
         WHERE rv.repo_id = task_reviews.repo_id AND rv.login_key = task_reviews.reviewer);

-- Rule 13's recheck under the repository's row lock (migration 0035), reading the claim's
-- condition as it is now (`store::leases::claim_rules::reviewer_room`, a copy that a test keeps
-- equal): reviewers count by their account, and one not resolved yet has no room.
CREATE OR REPLACE FUNCTION owp_reviewer_room() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    room boolean;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM repos WHERE id = NEW.repo_id AND reviewers > 0) THEN
        RETURN NULL;
    END IF;
    -- The lock first, then the condition in a statement of its own: a statement that waited for
    -- the lock would still count in the snapshot it took before waiting.
    PERFORM 1 FROM repos WHERE id = NEW.repo_id FOR UPDATE;
    SELECT (r.reviewers = 0 OR ((SELECT CAST(COALESCE(SUM(rv.capacity), 0) AS BIGINT) FROM repo_reviewers rv WHERE rv.repo_id = r.id AND (rv.account_id IS NOT NULL AND (rv.away_until IS NULL OR rv.away_until <= NEW.created_at))) - (SELECT COUNT(*) FROM tasks rt JOIN task_reviews tr ON tr.task_seq = rt.seq JOIN repo_reviewers rv ON rv.repo_id = rt.repo_id AND rv.account_id = tr.reviewer_id WHERE rt.repo_id = r.id AND rt.status = 'pr_opened' AND (rv.account_id IS NOT NULL AND (rv.away_until IS NULL OR rv.away_until <= NEW.created_at)))) > r.active_leases - 1)
    INTO room FROM repos r WHERE r.id = NEW.repo_id;
    IF NOT room THEN
        RAISE EXCEPTION 'the repository''s reviewers have no room for another pull request'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'repos_reviewer_room';
    END IF;
    RETURN NULL;
END;
$$;
