-- Checks on linked pull requests (PostgreSQL). The same schema exists for SQLite in
-- migrations/sqlite; the comments there explain it.
ALTER TABLE gh_linked_prs ADD COLUMN head_sha TEXT;
CREATE INDEX gh_linked_prs_head ON gh_linked_prs (repo, head_sha) WHERE head_sha IS NOT NULL;

CREATE TABLE gh_commit_checks (
    repo       TEXT   NOT NULL,
    sha        TEXT   NOT NULL,
    check_key  TEXT   NOT NULL,
    state      TEXT   NOT NULL CHECK (state IN ('pending', 'success', 'failure')),
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (repo, sha, check_key)
);
