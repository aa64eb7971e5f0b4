-- Vouch lists (contract section 12, rule 12; PostgreSQL, the same for the other backend in
-- migrations/sqlite). A repository's `VOUCHED.td` (else `.github/VOUCHED.td`), the lists it
-- imports, and its maintainers' `/owp vouch`, `/owp unvouch` and `/owp denounce` commands are
-- kept here; the claim's rules (`store::leases::claim_rules`) read them in the statement that
-- takes a task. Times are milliseconds since the epoch.

-- What `.github/owp.yml` `vouch:` says: the trust a vouched login counts as here (0-3, default
-- 1), and whether only vouched logins and maintainers may claim. `vouch_closed` is 1 while a
-- list the repository needs was never read (GitHub did not answer) or is not valid: a repository
-- with `vouch_required` then takes claims from maintainers only (it fails closed).
ALTER TABLE repos ADD COLUMN vouch_trust BIGINT NOT NULL DEFAULT 1;
ALTER TABLE repos ADD COLUMN vouch_required BIGINT NOT NULL DEFAULT 0;
ALTER TABLE repos ADD COLUMN vouch_closed BIGINT NOT NULL DEFAULT 0;

-- One login of a repository's merged list. `source`: its own file (`origin` is the file's
-- path), an imported repository's file (`origin` is that repository; only its denouncements
-- count here) or a maintainer's command (`origin` is ''). A list read again replaces its rows.
CREATE TABLE vouch_entries (
    repo_id    BIGINT  NOT NULL REFERENCES repos (id),
    source     TEXT    NOT NULL CHECK (source IN ('file', 'import', 'command')),
    origin     TEXT    NOT NULL,
    login      TEXT    NOT NULL,               -- lower-case
    vouched    BIGINT  NOT NULL,
    denounced  BIGINT  NOT NULL,
    details    TEXT,                           -- never repeated to the person
    updated_at BIGINT  NOT NULL,
    PRIMARY KEY (repo_id, source, origin, login)
);
CREATE INDEX vouch_entries_login ON vouch_entries (repo_id, login);

-- Each list a repository reads (its own, `origin` = the repository itself, and each import),
-- when GitHub last answered for it, why it is not applied (shown to maintainers), and a digest
-- of the entries applied (a list read again unchanged writes nothing).
CREATE TABLE vouch_lists (
    repo_id BIGINT  NOT NULL REFERENCES repos (id),
    origin  TEXT    NOT NULL,
    path    TEXT,                              -- where the file was found; NULL: no file
    error   TEXT,
    read_at BIGINT,                            -- NULL: GitHub never answered
    digest  TEXT,
    PRIMARY KEY (repo_id, origin)
);
