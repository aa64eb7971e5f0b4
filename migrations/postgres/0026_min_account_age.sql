-- `claim: {min_account_age_days: N}` of a repository's `.github/owp.yml` (contract section 11),
-- kept beside `claims_per_hour` so that every claim path reads it in the statement that takes
-- the task: a worker linked to a GitHub account younger than N days (as `gh_accounts` knows it)
-- is not offered the repository's tasks. 0 is no minimum.
ALTER TABLE repos ADD COLUMN min_account_age_days INTEGER NOT NULL DEFAULT 0;
