-- A reviewer is a person (contract section 14; SQLite, the same change for PostgreSQL is in
-- migrations/postgres): a repository's settings list reviewers by login, and the pool keeps
-- the GitHub account each listed login was resolved to. Away, open reviews and assignment follow
-- the account: a reviewer who renames keeps them, and a new account that takes a freed login is
-- not the reviewer the login named.
--
-- `account_id`: the account the listed login (`login_key`) was resolved to, from what the App
-- knew (a person GitHub named in a delivery, `persons`) or by asking GitHub; kept while the
-- settings list that login. NULL: not resolved yet, and then the row counts as no reviewer with
-- room (rule 13 and the assignment read `store::leases::claim_rules::present`).
-- `account_login`: the login GitHub last gave for that account (shown; NULL: the listed one).
ALTER TABLE repo_reviewers ADD COLUMN account_id INTEGER;
ALTER TABLE repo_reviewers ADD COLUMN account_login TEXT;
-- One row per person of a repository; found by the account when GitHub names it.
CREATE UNIQUE INDEX repo_reviewers_person ON repo_reviewers (account_id, repo_id)
    WHERE account_id IS NOT NULL;
-- The rows still to resolve, found by their login when GitHub names that login.
CREATE INDEX repo_reviewers_unresolved ON repo_reviewers (login_key) WHERE account_id IS NULL;

-- The account of the reviewer of each pull request: open reviews are counted by it.
ALTER TABLE task_reviews ADD COLUMN reviewer_id INTEGER;

-- What the pool already knows: a listed login that names exactly one person it has met.
UPDATE repo_reviewers SET account_id =
       (SELECT p.account_id FROM persons p WHERE lower(p.login) = repo_reviewers.login_key)
 WHERE (SELECT COUNT(*) FROM persons p WHERE lower(p.login) = repo_reviewers.login_key) = 1;
UPDATE task_reviews SET reviewer_id =
       (SELECT rv.account_id FROM repo_reviewers rv
         WHERE rv.repo_id = task_reviews.repo_id AND rv.login_key = task_reviews.reviewer);
