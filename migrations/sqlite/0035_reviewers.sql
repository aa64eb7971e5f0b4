-- Reviewers with room (contract section 12, rule 13): `.github/owp.yml` `review: {reviewers:
-- {LOGIN: N, …}}`, recorded with the rest of the settings in the delivery's transaction.
--
-- One row per reviewer of a repository: how many pool pull requests they review at once
-- (`capacity`), until when they are away (`away_until`, ms; NULL: not away; `/owp away [DAYS]`,
-- `/owp back`), and when they were last assigned a review (ties of the assignment go to whoever
-- waited longest). A login is compared case-insensitively: `login_key` is its lower case,
-- `login` as the settings write it.
CREATE TABLE repo_reviewers (
    repo_id          INTEGER NOT NULL REFERENCES repos (id),
    login_key        TEXT    NOT NULL,
    login            TEXT    NOT NULL,
    capacity         INTEGER NOT NULL CHECK (capacity BETWEEN 1 AND 20),
    away_until       INTEGER,
    last_assigned_at INTEGER,
    PRIMARY KEY (repo_id, login_key)
);

-- Who reviews a task's pull request: assigned when a pull request starts acting on the task,
-- moved by `/owp review @login`. The review is open while the task is `pr_opened`; it ends when
-- the pull request merges or closes (the task leaves `pr_opened`), and the row stays as a record.
-- Open reviews are counted from the repository's `pr_opened` tasks (`tasks_repo_status`), each
-- one probe of this table's key, so the rows kept as a record cost no claim anything.
CREATE TABLE task_reviews (
    task_seq    INTEGER NOT NULL PRIMARY KEY,
    repo_id     INTEGER NOT NULL,
    reviewer    TEXT    NOT NULL,
    assigned_at INTEGER NOT NULL
);

-- How many reviewers the repository has: 0 (no reviewers) makes rule 13's condition free.
ALTER TABLE repos ADD COLUMN reviewers INTEGER NOT NULL DEFAULT 0;
