-- What every replica of one pool must share and no environment file can: the digest of an admin
-- token generated at a first start, the GitHub App setup page's key, and the App's credentials
-- saved by that page (the same table for the other backend is in migrations/postgres). One row
-- per name; a row is written once and only replaced on purpose.
CREATE TABLE shared_settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    set_at BIGINT NOT NULL
);
