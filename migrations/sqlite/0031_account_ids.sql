-- GitHub accounts are kept by their numeric id, not by login (contract section 13): a login can
-- be renamed away and taken by a new account, which must not inherit the old one's age. Rows
-- keyed by login are dropped: an age is cheap to read again.
--
-- `created_at` is NULL while GitHub has not answered (the account was renamed, hidden, or GitHub
-- failed): the claim's age rule refuses such an account, and the App asks again once `read_at`
-- is a few minutes old, never once per claim attempt. Times are milliseconds since the epoch.
DROP TABLE gh_accounts;
CREATE TABLE gh_accounts (
    account_id INTEGER PRIMARY KEY,
    login      TEXT    NOT NULL,               -- as GitHub named it when last read
    created_at INTEGER,
    read_at    INTEGER NOT NULL
);
CREATE INDEX gh_accounts_unknown ON gh_accounts (read_at) WHERE created_at IS NULL;

-- The GitHub account a worker speaks for: the account that proved a link (`/owp link`) or the
-- commenter whose claims a person's implicit worker makes. NULL for a worker that is no GitHub
-- account, and for links made before ids were kept (their age is read by login once, and the id
-- GitHub gives is kept).
ALTER TABLE workers ADD COLUMN github_account_id INTEGER;

-- A linked pull request whose changed files are too many to lock even folded to top-level
-- folders (contract section 13): the task it acts on holds only its declared paths, and
-- maintainers see it marked here (and by the `github.paths_too_broad` event when it becomes so).
ALTER TABLE gh_linked_prs ADD COLUMN paths_too_broad INTEGER NOT NULL DEFAULT 0;
