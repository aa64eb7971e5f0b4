-- Checks on linked pull requests (SQLite). The same schema exists for PostgreSQL in
-- migrations/postgres.
--
-- The head commit of each linked pull request, as its latest `pull_request` (or check suite)
-- delivery named it, and the checks GitHub reported for commits: one row per check suite, check
-- run or commit status context, its latest state. A task in `pr_opened` shows the combined state
-- of its pull request's head as `artifact.checks`: any failure fails, else any pending is pending,
-- else success.
ALTER TABLE gh_linked_prs ADD COLUMN head_sha TEXT;
CREATE INDEX gh_linked_prs_head ON gh_linked_prs (repo, head_sha) WHERE head_sha IS NOT NULL;

CREATE TABLE gh_commit_checks (
    repo       TEXT    NOT NULL,
    sha        TEXT    NOT NULL,
    check_key  TEXT    NOT NULL,          -- suite:ID, run:ID or status:CONTEXT
    state      TEXT    NOT NULL CHECK (state IN ('pending', 'success', 'failure')),
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (repo, sha, check_key)
);
