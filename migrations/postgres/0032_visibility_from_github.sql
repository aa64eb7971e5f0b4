-- Whose word a repository's board visibility and archive rest on (PostgreSQL). Kept in step with
-- migrations/sqlite.
--
-- `github_private`: what GitHub last said of the repository (1 private, 0 public; NULL when it
-- has not said, or the repository is not GitHub's). `private` (0003) stays the visibility the
-- boards follow: GitHub's answer, unless a person chose otherwise (`visibility_pinned` = 1): the
-- operator either way, a maintainer only towards private. A pinned choice holds until GitHub's
-- answer changes; then GitHub's new answer is followed again. A maintainer may not make public a
-- repository GitHub has not said is public.
ALTER TABLE repos ADD COLUMN github_private BIGINT;
ALTER TABLE repos ADD COLUMN visibility_pinned BIGINT NOT NULL DEFAULT 0;

-- `archived_by`: the actor who archived the repository (`admin`, or `github:LOGIN`); NULL while
-- it is not archived, and for archives made before this column (the operator's: only the
-- operator could archive). A maintainer brings back only a repository a maintainer archived.
ALTER TABLE repos ADD COLUMN archived_by TEXT;
