-- What a person maintains, as their own installations listed it at sign-in (PostgreSQL; the same for
-- SQLite in migrations/sqlite). At sign-in the service reads, with the person's
-- token, `GET /user/installations` and each installation's repositories, keeps those of this
-- App's installations on which GitHub grants admin, maintain or write, and drops the token: these
-- rows are the only repositories the person's requests ever ask GitHub about (each confirmed with
-- the permission route at most every five minutes, in `signin_permissions`). A new sign-in
-- replaces them; a revocation deletes them.
CREATE TABLE signin_repos (
    login      TEXT NOT NULL,     -- lower-case
    repo       TEXT NOT NULL,     -- owner/name, as GitHub spells it
    permission TEXT NOT NULL,     -- admin | maintain | write, at sign-in
    listed_at  BIGINT NOT NULL,
    PRIMARY KEY (login, repo)
);
