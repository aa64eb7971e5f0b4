-- What the pool keeps about a person beside their history (PostgreSQL; the same change for
-- SQLite is in migrations/sqlite): the trust an admin gave them and whether they opted in
-- to reputation and to the leaderboard, kept on their record (`persons`, by GitHub account id)
-- so that a second worker or a relink neither loses nor resets them. NULL: not recorded yet;
-- the worker's own value counts until the person's first link records it
-- (`store::leases::person_sql::person_setting`).
ALTER TABLE persons ADD COLUMN trust_level BIGINT;
ALTER TABLE persons ADD COLUMN reputation_opt_in BIGINT;
ALTER TABLE persons ADD COLUMN leaderboard_opt_in BIGINT;
UPDATE persons SET
    trust_level = (SELECT MAX(w.trust_level) FROM workers w
                    WHERE w.github_account_id = persons.account_id),
    reputation_opt_in = (SELECT MAX(w.reputation_opt_in) FROM workers w
                          WHERE w.github_account_id = persons.account_id),
    leaderboard_opt_in = (SELECT MAX(w.leaderboard_opt_in) FROM workers w
                           WHERE w.github_account_id = persons.account_id);
