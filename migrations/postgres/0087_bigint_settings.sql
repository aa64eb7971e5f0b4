-- Two numbers PostgreSQL held as INTEGER, where the same columns are 64-bit on SQLite and every
-- other number of these tables is BIGINT: a repository's `min_account_age_days` (0 to 3,650)
-- and a linked pull request's `paths_too_broad` (0 or 1). As BIGINT the statements that write
-- them take the same parameter type on both backends (`sql/`, checked by the compiler).
ALTER TABLE repos ALTER COLUMN min_account_age_days TYPE BIGINT;
ALTER TABLE gh_linked_prs ALTER COLUMN paths_too_broad TYPE BIGINT;
