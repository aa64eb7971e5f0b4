-- Reviewers with room (contract section 12, rule 13): `.github/owp.yml` `review: {reviewers:
-- {LOGIN: N, …}}`, recorded with the rest of the settings in the delivery's transaction.
--
-- One row per reviewer of a repository: how many pool pull requests they review at once
-- (`capacity`), until when they are away (`away_until`, ms; NULL: not away; `/owp away [DAYS]`,
-- `/owp back`), and when they were last assigned a review (ties of the assignment go to whoever
-- waited longest). A login is compared case-insensitively: `login_key` is its lower case,
-- `login` as the settings write it.
CREATE TABLE repo_reviewers (
    repo_id          BIGINT  NOT NULL REFERENCES repos (id),
    login_key        TEXT    NOT NULL,
    login            TEXT    NOT NULL,
    capacity         BIGINT  NOT NULL CHECK (capacity BETWEEN 1 AND 20),
    away_until       BIGINT,
    last_assigned_at BIGINT,
    PRIMARY KEY (repo_id, login_key)
);

-- Who reviews a task's pull request: assigned when a pull request starts acting on the task,
-- moved by `/owp review @login`. The review is open while the task is `pr_opened`; it ends when
-- the pull request merges or closes (the task leaves `pr_opened`), and the row stays as a record.
-- Open reviews are counted from the repository's `pr_opened` tasks (`tasks_repo_status`), each
-- one probe of this table's key, so the rows kept as a record cost no claim anything.
CREATE TABLE task_reviews (
    task_seq    BIGINT  NOT NULL PRIMARY KEY,
    repo_id     BIGINT  NOT NULL,
    reviewer    TEXT    NOT NULL,
    assigned_at BIGINT  NOT NULL
);

-- How many reviewers the repository has: 0 (no reviewers) makes rule 13's condition free.
ALTER TABLE repos ADD COLUMN reviewers BIGINT NOT NULL DEFAULT 0;

-- Rule 13's recheck under the repository's row lock. The rule itself is the claim's condition
-- `ReviewerRoom` (`store::leases::claim_rules::reviewer_room`), which every claim statement joins
-- and every refusal is explained from. Read in the claim statement's snapshot, two claims of the
-- same repository that start together both see the same leases in flight and both pass it (the
-- review budget's conditional take rereads only the repository's own row). So, once a lease of a
-- repository with reviewers is written, this trigger locks the repository's row (the claim has
-- already updated it for its review budget, so a second claim waits here until the first
-- commits) and reads the same condition again in a statement of its own, which sees every lease
-- and every review committed before it. It runs after the claim's statement, whose own lease is
-- then among the repository's `active_leases`: hence `- 1`. The condition below is a copy of
-- the claim's text, at the lease's instant (a unit test of `claim_rules` keeps the two equal).
-- A claim it refuses fails with the constraint name `repos_reviewer_room`; the store takes that
-- as a lost race and claims again, and the new snapshot's condition leaves the repository out.
-- A repository without reviewers costs one lookup of its row.
--
-- SQLite needs no trigger: its writers are serialised, so the claim's own condition is current.
CREATE FUNCTION owp_reviewer_room() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    room boolean;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM repos WHERE id = NEW.repo_id AND reviewers > 0) THEN
        RETURN NULL;
    END IF;
    -- The lock first, then the condition in a statement of its own: a statement that waited for
    -- the lock would still count in the snapshot it took before waiting.
    PERFORM 1 FROM repos WHERE id = NEW.repo_id FOR UPDATE;
    SELECT (r.reviewers = 0 OR ((SELECT CAST(COALESCE(SUM(rv.capacity), 0) AS BIGINT) FROM repo_reviewers rv WHERE rv.repo_id = r.id AND (rv.away_until IS NULL OR rv.away_until <= NEW.created_at)) - (SELECT COUNT(*) FROM tasks rt JOIN task_reviews tr ON tr.task_seq = rt.seq JOIN repo_reviewers rv ON rv.repo_id = rt.repo_id AND rv.login_key = tr.reviewer WHERE rt.repo_id = r.id AND rt.status = 'pr_opened' AND (rv.away_until IS NULL OR rv.away_until <= NEW.created_at))) > r.active_leases - 1)
    INTO room FROM repos r WHERE r.id = NEW.repo_id;
    IF NOT room THEN
        RAISE EXCEPTION 'the repository''s reviewers have no room for another pull request'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'repos_reviewer_room';
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER leases_reviewer_room AFTER INSERT ON leases
FOR EACH ROW EXECUTE FUNCTION owp_reviewer_room();
