-- The GitHub App's state (SQLite). The same tables exist for PostgreSQL in migrations/postgres.
--
-- Conventions as in 0001: integer milliseconds, 0/1 booleans, JSON as TEXT. Nothing here changes
-- a task by itself: task changes go through the store's one door, and these tables hold what the
-- App needs around them — the webhook inbox, the comment outbox, the status comments, the pull
-- requests linked to tasks, comment claims, worker links and scheduled jobs.

-- Installations of the App, as GitHub reported them.
CREATE TABLE gh_installations (
    id            INTEGER PRIMARY KEY,           -- GitHub's installation id
    account       TEXT    NOT NULL,              -- the user or organisation
    suspended     INTEGER NOT NULL DEFAULT 0,
    -- no request of this installation before this instant (Retry-After, rate-limit reset)
    blocked_until INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

-- Content-creating requests (comments, edits, reactions) sent per installation in the last
-- minute: GitHub's secondary limit allows 80 per minute, and every replica counts here.
CREATE TABLE gh_write_log (
    installation_id INTEGER NOT NULL,
    at              INTEGER NOT NULL
);

CREATE INDEX gh_write_log_at ON gh_write_log (installation_id, at);

-- Repositories the App is installed on. The pool policy itself is the `repos` row of the same
-- name; this row says which installation reaches the repository and which settings apply.
CREATE TABLE gh_repos (
    repo              TEXT    PRIMARY KEY,       -- owner/name, as GitHub spells it
    github_id         INTEGER,
    installation_id   INTEGER,                   -- NULL once the App has left the repository
    config            TEXT,                      -- last good .github/owp.yml as JSON; NULL: defaults
    config_error      TEXT,                      -- why the current file is not in use
    config_checked_at INTEGER NOT NULL DEFAULT 0,
    joined_at         INTEGER NOT NULL,
    left_at           INTEGER
);

CREATE INDEX gh_repos_installation ON gh_repos (installation_id);

-- The GitHub side of a task made from an issue: the issue, its living status comment.
CREATE TABLE gh_tasks (
    task_id           TEXT    PRIMARY KEY REFERENCES tasks (id),
    repo              TEXT    NOT NULL,
    issue_number      INTEGER NOT NULL,
    label_warnings    TEXT    NOT NULL DEFAULT '[]', -- JSON array of texts shown on the status comment
    -- why the issue left the pool while someone held it; the task leaves when they let go
    left_pool         TEXT,
    status_comment_id INTEGER,                   -- found again by its hidden marker when NULL
    status_body       TEXT,                      -- the body last written to it
    UNIQUE (repo, issue_number)
);

-- Claims made by commenting `/owp claim`: the claimer, and their last human activity, from which
-- the claim's lifetime runs. The lease itself is the task's (tasks.deadline).
CREATE TABLE gh_claims (
    task_id          TEXT    PRIMARY KEY REFERENCES tasks (id),
    lease_id         TEXT    NOT NULL,
    login            TEXT    NOT NULL,
    worker_id        TEXT    NOT NULL REFERENCES workers (id),
    person           INTEGER NOT NULL,            -- 1: the login's implicit worker; 0: a linked worker
    ttl_ms           INTEGER NOT NULL,
    reminder         INTEGER NOT NULL DEFAULT 1,  -- remind at half time
    claimed_at       INTEGER NOT NULL,
    last_activity_at INTEGER NOT NULL,
    reminded_at      INTEGER
);

-- Pull requests whose body closes a task's issue.
CREATE TABLE gh_linked_prs (
    repo       TEXT    NOT NULL,                  -- the pull request's repository
    pr_number  INTEGER NOT NULL,
    task_id    TEXT    NOT NULL REFERENCES tasks (id),
    pr_url     TEXT    NOT NULL,
    author     TEXT    NOT NULL,
    state      TEXT    NOT NULL CHECK (state IN ('open', 'closed', 'merged')),
    draft      INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (repo, pr_number, task_id)
);

CREATE INDEX gh_linked_prs_task ON gh_linked_prs (task_id, state);

-- The webhook inbox: every verified delivery, keyed by X-GitHub-Delivery, applied in order.
-- A delivery's effects and its `applied` mark commit in one transaction, so a crash loses
-- nothing and a redelivery changes nothing.
CREATE TABLE gh_deliveries (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id     TEXT    NOT NULL UNIQUE,
    event           TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    received_at     INTEGER NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending'
                      CHECK (state IN ('pending', 'applied', 'ignored', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claimed_by      TEXT,                         -- the process applying it
    claimed_until   INTEGER,
    finished_at     INTEGER,
    error           TEXT
);

CREATE INDEX gh_deliveries_pending ON gh_deliveries (seq) WHERE state = 'pending';

-- The comment outbox, written in the transaction of the change that needs the comment. A sender
-- claims a row (claimed_by/claimed_until) so that with several replicas exactly one sends it.
-- Pending edits of one status comment share a coalescing key and collapse into one row; the
-- row's revision tells a sender that the task changed while it was sending.
CREATE TABLE gh_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    uid             TEXT    NOT NULL UNIQUE,      -- in the comment's hidden marker
    installation_id INTEGER NOT NULL,
    repo            TEXT    NOT NULL,
    issue_number    INTEGER NOT NULL,
    kind            TEXT    NOT NULL CHECK (kind IN ('status', 'comment', 'reaction')),
    task_id         TEXT,                         -- status: the task whose comment to write
    comment_id      INTEGER,                      -- reaction: the comment reacted to
    body            TEXT    NOT NULL DEFAULT '',  -- comment: its text; reaction: its content
    coalesce_key    TEXT,
    revision        INTEGER NOT NULL DEFAULT 1,
    state           TEXT    NOT NULL DEFAULT 'pending'
                      CHECK (state IN ('pending', 'sent', 'failed', 'dropped')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claimed_by      TEXT,
    claimed_until   INTEGER,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER,
    github_id       INTEGER,                      -- the comment (or reaction) GitHub made
    last_error      TEXT
);

CREATE UNIQUE INDEX gh_outbox_coalesce ON gh_outbox (coalesce_key)
    WHERE state = 'pending' AND coalesce_key IS NOT NULL;
CREATE INDEX gh_outbox_due ON gh_outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX gh_outbox_issue ON gh_outbox (repo, issue_number) WHERE state = 'pending';

-- GitHub logins proven to own a registered worker (`owp worker link` + `/owp link CODE`).
CREATE TABLE gh_links (
    login     TEXT    PRIMARY KEY,                -- lower-case
    worker_id TEXT    NOT NULL UNIQUE REFERENCES workers (id),
    linked_at INTEGER NOT NULL
);

-- One-time link codes (stored as SHA-256).
CREATE TABLE gh_link_codes (
    code_hash  TEXT    PRIMARY KEY,
    worker_id  TEXT    NOT NULL REFERENCES workers (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    used_by    TEXT
);

-- Scheduled jobs: one row per (job, slot). The replica whose insert succeeds runs that slot, so a
-- scheduled job runs once per slot however many replicas share the database.
CREATE TABLE gh_job_runs (
    name        TEXT    NOT NULL,
    slot        INTEGER NOT NULL,                 -- the scheduled instant
    runner      TEXT    NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    outcome     TEXT,
    PRIMARY KEY (name, slot)
);

-- Failed webhook deliveries the App asked GitHub to send again.
CREATE TABLE gh_redeliveries (
    guid         TEXT    PRIMARY KEY,             -- X-GitHub-Delivery of the failed delivery
    attempt_id   INTEGER NOT NULL,                -- GitHub's id of the attempt redelivered
    requested_at INTEGER NOT NULL
);
