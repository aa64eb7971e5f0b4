-- Specialist workers and archived repositories and workers (PostgreSQL). The same schema exists
-- for SQLite in migrations/sqlite; the comments there explain it.
ALTER TABLE workers ADD COLUMN specialist BIGINT NOT NULL DEFAULT 0;
ALTER TABLE workers ADD COLUMN archived_at BIGINT;
ALTER TABLE repos ADD COLUMN archived_at BIGINT;
