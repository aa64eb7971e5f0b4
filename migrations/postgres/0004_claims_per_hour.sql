-- A repository's hourly claim cap (`pr_hourly_limit` of `.github/owp.yml`; NULL = none), so that
-- every claim path (REST and comment) enforces it, and the repository of each lease, so that the
-- claims of the last hour are counted through an index.
ALTER TABLE repos ADD COLUMN claims_per_hour BIGINT CHECK (claims_per_hour IS NULL OR claims_per_hour >= 1);
ALTER TABLE leases ADD COLUMN repo_id BIGINT;
UPDATE leases SET repo_id = (SELECT t.repo_id FROM tasks t WHERE t.seq = leases.task_seq);
CREATE INDEX leases_repo_created ON leases (repo_id, created_at);
