-- First timers and cool-downs (contract section 12, rule 14; SQLite, the same change for
-- PostgreSQL is in migrations/postgres).
--
-- `.github/owp.yml` `claim: {first_timers_label, cooldown_hours}` is kept beside the repository's
-- other claim settings, so that every claim path reads it in the statement that takes the task
-- (`store::leases::claim_rules`). `first_timers_label` is NULL when the rule is off; the label's
-- name is kept only for the words of a refusal. 0 hours is no cool-down.
ALTER TABLE repos ADD COLUMN first_timers_label TEXT;
ALTER TABLE repos ADD COLUMN cooldown_hours INTEGER NOT NULL DEFAULT 0;

-- 1 while the task's issue carries the repository's first-timers label (set when the issue is
-- read, as a task's tier is): only a person with no merged task in the repository claims it.
ALTER TABLE tasks ADD COLUMN first_timers INTEGER NOT NULL DEFAULT 0;

-- A person is every worker that speaks for one GitHub account (their implicit worker and their
-- linked workers): the rule finds them by the account.
CREATE INDEX workers_github_account ON workers (github_account_id)
    WHERE github_account_id IS NOT NULL;

-- The leases that ended without a pull request (given back, released by comment, expired), by
-- worker and repository: a cool-down is one probe of this index per worker of the person.
CREATE INDEX leases_ended_without_pr ON leases (worker_id, repo_id, ended_at)
    WHERE outcome IN ('nacked', 'expired');
