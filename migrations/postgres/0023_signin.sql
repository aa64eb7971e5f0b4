-- Maintainers sign in with GitHub (PostgreSQL). The same for SQLite in
-- migrations/sqlite. Every secret is kept as its SHA-256 digest (hex) only: the `state` of a
-- web sign-in, a device flow's code, a session's cookie and a maintainer token.

-- A sign-in under way: a web sign-in (`state` + PKCE verifier) or a device flow (GitHub's device
-- code). Each is used once (`used_at`), and only until `expires_at` (10 minutes for the web).
CREATE TABLE signin_flows (
    digest      TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('web', 'device')),
    -- PKCE `code_verifier` of a web sign-in; sent to GitHub once, with the code.
    verifier    TEXT,
    -- Device flow: the least time between two polls (GitHub's `interval`), and the last poll.
    interval_ms BIGINT NOT NULL DEFAULT 0,
    polled_at   BIGINT,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX signin_flows_expiry ON signin_flows (expires_at);

-- Who is signed in: a dashboard session opened with the admin token (`admin`), a maintainer's
-- dashboard session (`web`, with its CSRF token) or a maintainer token (`token`, `owpm_…`).
CREATE TABLE signin_sessions (
    digest     TEXT PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('admin', 'web', 'token')),
    login      TEXT,
    github_id  BIGINT,
    csrf       TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX signin_sessions_login ON signin_sessions (login);
CREATE INDEX signin_sessions_expiry ON signin_sessions (expires_at);

-- What GitHub said a person may do on a repository of the pool (`admin`, `maintain`, `write`,
-- `triage`, `read`, `none`), and when it said so: trusted for at most five minutes.
CREATE TABLE signin_permissions (
    login      TEXT NOT NULL,
    repo       TEXT NOT NULL,
    permission TEXT NOT NULL,
    fetched_at BIGINT NOT NULL,
    PRIMARY KEY (login, repo)
);
