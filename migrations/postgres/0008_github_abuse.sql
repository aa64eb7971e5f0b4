-- A pull request that links a task's issue but may not act on it (another person's while the task
-- is claimed, or a draft that is not the holder's) is recorded with `acting = 0`: maintainers see
-- it, but it ends no claim, holds no review slot and never governs the task.
ALTER TABLE gh_linked_prs ADD COLUMN acting BIGINT NOT NULL DEFAULT 1;

-- The SHA-256 of a delivery's signed body (with its event name): the same body under a new
-- delivery id is acknowledged and not applied again. NULL for deliveries stored before.
ALTER TABLE gh_deliveries ADD COLUMN body_sha256 TEXT;
CREATE UNIQUE INDEX gh_deliveries_body ON gh_deliveries (body_sha256);

-- The App's recent replies on an issue, to collapse an identical repeat into the first.
CREATE INDEX gh_outbox_replies ON gh_outbox (repo, issue_number, created_at) WHERE kind = 'comment';
