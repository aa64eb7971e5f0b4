-- What the GitHub reads a volunteer's action causes cost, bounded and remembered.
--
-- A worker's `pr_opened` report of a GitHub task is checked against GitHub
-- (`github::pr_reports`). What GitHub said of a pull request (a read, or a `pull_request`
-- delivery) is kept here, so a repeated report, or one of a pull request GitHub already told of,
-- costs no request; a pull request GitHub does not know is remembered too (`state` 'missing').
-- Times are milliseconds since the epoch; rows older than a day are forgotten.
CREATE TABLE gh_pr_facts (
    repo      TEXT    NOT NULL,
    number    BIGINT  NOT NULL,
    state     TEXT    NOT NULL CHECK (state IN ('open', 'closed', 'merged', 'missing')),
    author_id BIGINT,
    author    TEXT,
    read_at   BIGINT  NOT NULL,
    PRIMARY KEY (repo, number)
);
CREATE INDEX gh_pr_facts_read_at ON gh_pr_facts (read_at);

-- Each login a vouch list names that the App asked GitHub about (`GET /users/{login}`), and
-- when: a login GitHub does not know (`missing` 1) is not asked again for a day, and the
-- logins asked longest ago (or never) are asked first, so that every entry of a long list is
-- resolved whatever its place in the file. `account_id` is what GitHub answered, if anything.
CREATE TABLE gh_login_asks (
    login      TEXT    PRIMARY KEY,             -- lower-case
    asked_at   BIGINT  NOT NULL,
    account_id BIGINT,
    missing    BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX gh_login_asks_asked_at ON gh_login_asks (asked_at);

-- `rate_counts` counts in windows of other lengths than a minute too (a person's GitHub reads
-- per hour): each row says how long its window is, and is forgotten once it ended.
ALTER TABLE rate_counts ADD COLUMN span BIGINT NOT NULL DEFAULT 60000;
