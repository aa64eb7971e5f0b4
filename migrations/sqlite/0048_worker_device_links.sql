-- A worker proves its person with GitHub's device flow (SQLite; the same for the other backend in
-- migrations/postgres). Each flow is bound to the worker that started it and kept apart from a
-- maintainer's sign-in (`signin_flows`): no query of sign-in reads this table, and no query here
-- reads that one, so a worker's device code never opens a maintainer session and a maintainer's
-- never links a worker. GitHub's device code is kept as its SHA-256 digest (hex) only; the
-- person's GitHub token is never kept.
CREATE TABLE worker_link_flows (
    digest      TEXT PRIMARY KEY,
    worker_id   TEXT NOT NULL,
    -- The least time between two polls (GitHub's `interval`, raised by `slow_down`), and the
    -- last poll.
    interval_ms INTEGER NOT NULL,
    polled_at   INTEGER,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);
CREATE INDEX worker_link_flows_worker ON worker_link_flows (worker_id);
CREATE INDEX worker_link_flows_expiry ON worker_link_flows (expires_at);
