-- First timers and cool-downs (contract section 12, rule 14; PostgreSQL, the same change for
-- SQLite is in migrations/sqlite).
--
-- `.github/owp.yml` `claim: {first_timers_label, cooldown_hours}` is kept beside the repository's
-- other claim settings, so that every claim path reads it in the statement that takes the task
-- (`store::leases::claim_rules`). `first_timers_label` is NULL when the rule is off; the label's
-- name is kept only for the words of a refusal. 0 hours is no cool-down.
ALTER TABLE repos ADD COLUMN first_timers_label TEXT;
ALTER TABLE repos ADD COLUMN cooldown_hours BIGINT NOT NULL DEFAULT 0;

-- 1 while the task's issue carries the repository's first-timers label (set when the issue is
-- read, as a task's tier is): only a person with no merged task in the repository claims it.
-- The claim reads its candidates from `task_queue` (migration 0027), which carries it too; the
-- queue's function below is 0027's with the column added.
ALTER TABLE tasks ADD COLUMN first_timers BIGINT NOT NULL DEFAULT 0;
ALTER TABLE task_queue ADD COLUMN first_timers BIGINT NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION owp_task_queue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR NOT (NEW.status = 'ready' AND NEW.waiting = 0) THEN
        DELETE FROM task_queue WHERE seq = OLD.seq;
    ELSIF TG_OP = 'INSERT' OR NOT (OLD.status = 'ready' AND OLD.waiting = 0) THEN
        INSERT INTO task_queue (seq, repo_id, priority, skill_set_id, estimate_points, tier, area,
                                requires, first_timers)
        VALUES (NEW.seq, NEW.repo_id, NEW.priority, NEW.skill_set_id, NEW.estimate_points,
                NEW.tier, NEW.area, NEW.requires, NEW.first_timers);
    ELSIF (NEW.repo_id, NEW.priority, NEW.skill_set_id, NEW.estimate_points, NEW.tier, NEW.area,
           NEW.requires, NEW.first_timers)
          IS DISTINCT FROM (OLD.repo_id, OLD.priority, OLD.skill_set_id, OLD.estimate_points,
                            OLD.tier, OLD.area, OLD.requires, OLD.first_timers) THEN
        UPDATE task_queue SET repo_id = NEW.repo_id, priority = NEW.priority,
            skill_set_id = NEW.skill_set_id, estimate_points = NEW.estimate_points,
            tier = NEW.tier, area = NEW.area, requires = NEW.requires,
            first_timers = NEW.first_timers
        WHERE seq = NEW.seq;
    END IF;
    RETURN NULL;
END
$$;

-- A person is every worker that speaks for one GitHub account (their implicit worker and their
-- linked workers): the rule finds them by the account.
CREATE INDEX workers_github_account ON workers (github_account_id)
    WHERE github_account_id IS NOT NULL;

-- The leases that ended without a pull request (given back, released by comment, expired), by
-- worker and repository: a cool-down is one probe of this index per worker of the person.
CREATE INDEX leases_ended_without_pr ON leases (worker_id, repo_id, ended_at)
    WHERE outcome IN ('nacked', 'expired');
