-- A person is a GitHub account id (contract section 14; PostgreSQL, the same for the other backend
-- in migrations/sqlite): the login is how a person is shown, refreshed from what GitHub sends,
-- and never how a person is found. A new account that takes a freed login inherits nothing.

-- Links (`WriteTx::gh_link_worker`) are kept by the account that proved them. `login` is what
-- GitHub called the account when it was last seen (lower-case; shown, never looked up).
-- `account_id` is NULL for a link made before ids were kept: it is kept, but no comment finds it
-- by its login; it matches an account once GitHub names one (reconciliation asks for the accounts
-- of linked workers, `GET /users/{login}`), or once the person proves the link again (`/owp link`
-- under the same login).
CREATE TABLE gh_links_by_account (
    worker_id  TEXT    PRIMARY KEY REFERENCES workers (id),
    account_id BIGINT  UNIQUE,
    login      TEXT    NOT NULL,
    linked_at  BIGINT  NOT NULL
);
-- An account linked under two logins (it was renamed between two proofs) keeps its latest link.
INSERT INTO gh_links_by_account (worker_id, account_id, login, linked_at)
SELECT l.worker_id, w.github_account_id, l.login, l.linked_at
FROM gh_links l JOIN workers w ON w.id = l.worker_id
WHERE w.github_account_id IS NULL OR NOT EXISTS (
    SELECT 1 FROM gh_links l2 JOIN workers w2 ON w2.id = l2.worker_id
    WHERE w2.github_account_id = w.github_account_id
      AND (l2.linked_at > l.linked_at OR (l2.linked_at = l.linked_at AND l2.worker_id > l.worker_id)));
DROP TABLE gh_links;
ALTER TABLE gh_links_by_account RENAME TO gh_links;
CREATE INDEX gh_links_login ON gh_links (login);

-- A person's implicit worker (a tokenless `gh_…` worker, made by their comments) is found by
-- `github_account_id`; one made before ids were kept on every claim has the id GitHub gave for
-- its login, when the pool kept exactly one account of that login. One whose id is not known is
-- kept and found by no one (its person gets a new implicit worker): a login alone never names a
-- person.
UPDATE workers SET github_account_id = (
    SELECT ga.account_id FROM gh_accounts ga WHERE LOWER(ga.login) = LOWER(workers.github_login))
WHERE token_hash IS NULL AND github_account_id IS NULL AND github_login IS NOT NULL
  AND (SELECT COUNT(*) FROM gh_accounts ga
       WHERE LOWER(ga.login) = LOWER(workers.github_login)) = 1;

-- Each login of a vouch list is resolved to its account id when the App reads the list (`GET
-- /users/{login}`); the rules read the id. NULL while GitHub has not named the account: such an
-- entry vouches for nobody, and a denouncement still refuses whoever the login names now (the
-- rule fails closed) until the App asks again.
ALTER TABLE vouch_entries ADD COLUMN account_id BIGINT;
CREATE INDEX vouch_entries_account ON vouch_entries (repo_id, account_id)
    WHERE account_id IS NOT NULL;
-- Entries GitHub has not resolved yet, by login: a comment by whoever the login names now
-- resolves them (`WriteTx::gh_person_seen`).
CREATE INDEX vouch_entries_unresolved ON vouch_entries (login) WHERE account_id IS NULL;
