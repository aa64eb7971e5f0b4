-- OWP core schema (SQLite).
--
-- Conventions: timestamps are integer milliseconds since the Unix epoch (UTC); booleans are 0/1;
-- JSON documents are TEXT. The same schema exists for PostgreSQL in migrations/postgres.
--
-- The scheduling rules are enforced here, not in process memory:
--   * a task is leased by at most one worker: the claim is a conditional UPDATE ... WHERE status='ready';
--   * area locks: `tasks.area_lock` is set while a task holds its area, and a partial UNIQUE index
--     allows one holder per (repo, area);
--   * the review budget: `repos.open_prs + repos.active_leases` only grows through a conditional UPDATE
--     that checks it stays below `max_open_prs`;
--   * worker capacity: `workers.active_points` / `active_tasks` only grow through a conditional UPDATE
--     that checks the worker's limits.

-- A repository (or any pool of tasks) and its review budget.
CREATE TABLE repos (
    id                 INTEGER PRIMARY KEY,
    name               TEXT    NOT NULL UNIQUE,
    max_open_prs       INTEGER NOT NULL CHECK (max_open_prs >= 0),
    area_locks_enabled INTEGER NOT NULL DEFAULT 1,
    -- live figures, maintained in the same transaction as every task transition
    open_prs           INTEGER NOT NULL DEFAULT 0 CHECK (open_prs >= 0),
    active_leases      INTEGER NOT NULL DEFAULT 0 CHECK (active_leases >= 0),
    extensions         TEXT    NOT NULL DEFAULT '{}',
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);

-- Distinct sets of required skills. Tasks point at their set, so a claim can find the sets a worker
-- covers (a small table) instead of testing every task's skills.
CREATE TABLE skill_sets (
    id     INTEGER PRIMARY KEY,
    skills TEXT NOT NULL UNIQUE -- canonical: lower-case, sorted, comma-separated ('' = no skills)
);

CREATE TABLE skill_set_members (
    skill_set_id INTEGER NOT NULL REFERENCES skill_sets (id),
    skill        TEXT    NOT NULL,
    PRIMARY KEY (skill_set_id, skill)
);

-- A worker: a contributor's agent, or (in GitHub mode) a person claiming by comment.
CREATE TABLE workers (
    id                   TEXT    PRIMARY KEY,
    name                 TEXT    NOT NULL,
    token_hash           TEXT    UNIQUE,            -- SHA-256 of the bearer token; NULL for implicit workers
    skills               TEXT    NOT NULL,          -- canonical comma-separated
    all_skills           INTEGER NOT NULL DEFAULT 0, -- implicit GitHub workers match every skill set
    capacity_points      INTEGER NOT NULL CHECK (capacity_points >= 1),
    max_concurrent_tasks INTEGER NOT NULL CHECK (max_concurrent_tasks >= 1),
    github_login         TEXT,
    status               TEXT    NOT NULL DEFAULT 'idle' CHECK (status IN ('idle', 'working', 'paused')),
    last_seen_at         INTEGER,
    presence             TEXT    NOT NULL DEFAULT 'online', -- last announced: 'online' | 'offline'
    trust_level          INTEGER NOT NULL DEFAULT 0 CHECK (trust_level >= 0),
    capabilities         TEXT    NOT NULL DEFAULT '{}',
    active_points        INTEGER NOT NULL DEFAULT 0 CHECK (active_points >= 0),
    active_tasks         INTEGER NOT NULL DEFAULT 0 CHECK (active_tasks >= 0),
    extensions           TEXT    NOT NULL DEFAULT '{}',
    created_at           INTEGER NOT NULL
);

CREATE INDEX workers_presence ON workers (presence, last_seen_at);
CREATE INDEX workers_github_login ON workers (lower(github_login)) WHERE github_login IS NOT NULL;

-- A task. `seq` is the creation order (FIFO tie-break among equal priorities).
CREATE TABLE tasks (
    seq              INTEGER PRIMARY KEY,
    id               TEXT    NOT NULL UNIQUE,
    repo_id          INTEGER NOT NULL REFERENCES repos (id),
    key              TEXT,
    title            TEXT    NOT NULL,
    description      TEXT    NOT NULL DEFAULT '',
    estimate_points  INTEGER NOT NULL CHECK (estimate_points >= 1),
    priority         INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 3), -- 0 low … 3 critical
    skill_set_id     INTEGER NOT NULL REFERENCES skill_sets (id),
    area             TEXT,
    tier             INTEGER NOT NULL DEFAULT 0 CHECK (tier >= 0),
    status           TEXT    NOT NULL CHECK (status IN
                       ('ready', 'leased', 'in_progress', 'pr_opened', 'merged', 'blocked', 'cancelled')),
    status_reason    TEXT,
    worker_id        TEXT REFERENCES workers (id),
    lease_id         TEXT UNIQUE,
    lease_expires_at INTEGER, -- the lease's expiry (moved by ack, renew and heartbeats)
    accept_by        INTEGER, -- while `leased`: the lease must be acknowledged before this
    deadline         INTEGER, -- while leased/in_progress: the instant the lease ends (min of the two)
    area_lock        TEXT,    -- = area while this task holds its area lock
    lease_points     INTEGER, -- the points counted against the holder's capacity while active
    artifact         TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    extensions       TEXT    NOT NULL DEFAULT '{}',
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    CHECK ((status IN ('leased', 'in_progress')) = (deadline IS NOT NULL))
);

-- Import is idempotent by key within a repo.
CREATE UNIQUE INDEX tasks_repo_key ON tasks (repo_id, key) WHERE key IS NOT NULL;
-- One holder per (repo, area).
CREATE UNIQUE INDEX tasks_area_lock ON tasks (repo_id, area_lock) WHERE area_lock IS NOT NULL;
-- The ready queue in offer order: priority first, then creation order.
CREATE INDEX tasks_ready_queue ON tasks (priority DESC, seq) WHERE status = 'ready';
-- Leases by deadline, for expiry.
CREATE INDEX tasks_deadline ON tasks (deadline) WHERE deadline IS NOT NULL;
-- A worker's tasks.
CREATE INDEX tasks_worker ON tasks (worker_id) WHERE worker_id IS NOT NULL;
CREATE INDEX tasks_repo_status ON tasks (repo_id, status);
-- Who holds an area (the rule itself; `area_lock` above is its concurrency guard).
CREATE INDEX tasks_repo_area ON tasks (repo_id, area, status) WHERE area IS NOT NULL;

-- Every lease ever granted: who held which task, and how the lease ended.
CREATE TABLE leases (
    id         TEXT    PRIMARY KEY,
    task_seq   INTEGER  NOT NULL REFERENCES tasks (seq),
    worker_id  TEXT    NOT NULL REFERENCES workers (id),
    created_at INTEGER  NOT NULL,
    acked_at   INTEGER,
    ended_at   INTEGER,
    outcome    TEXT -- pr_opened | nacked | expired | blocked | released | cancelled | merged | ready
);

CREATE INDEX leases_task ON leases (task_seq);

-- A worker gave a task back: it is not offered to that worker again for an hour.
CREATE TABLE nacks (
    task_seq  INTEGER NOT NULL REFERENCES tasks (seq),
    worker_id TEXT    NOT NULL REFERENCES workers (id),
    at        INTEGER NOT NULL,
    PRIMARY KEY (task_seq, worker_id)
);

-- The audit log: one row per state change, written in the transaction of that change.
CREATE TABLE events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    kind      TEXT    NOT NULL,
    at        INTEGER NOT NULL,
    repo      TEXT,
    task_id   TEXT,
    worker_id TEXT,
    actor     TEXT    NOT NULL,
    data      TEXT    NOT NULL DEFAULT '{}'
);

CREATE INDEX events_task ON events (task_id) WHERE task_id IS NOT NULL;

-- Idempotency keys: the first response to (caller, key) is replayed for 24 hours.
CREATE TABLE idempotency_keys (
    caller       TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    request_hash TEXT    NOT NULL,
    status       INTEGER,          -- NULL while the first request is still being processed
    content_type TEXT,
    body         TEXT,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (caller, key)
);

CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Small key/value settings (e.g. the schema's own bookkeeping, job slots).
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
