-- When each GitHub account that claimed was created (PostgreSQL; the same table exists for SQLite),
-- so that `claim: {min_account_age_days: N}` of `.github/owp.yml` asks GitHub
-- (`GET /users/{login}`) once per person and never again: an account's creation date does not
-- change. `login` is lower-case; both times are milliseconds since the epoch.
CREATE TABLE gh_accounts (
    login      TEXT   PRIMARY KEY,
    created_at BIGINT NOT NULL,
    read_at    BIGINT NOT NULL
);
