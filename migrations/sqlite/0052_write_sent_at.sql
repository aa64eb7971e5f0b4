-- When each content-creating request was sent (SQLite; the same change for the other backend is
-- in migrations/postgres). `at` moves to when GitHub answered, for the hour's count; the
-- second between two writes of an installation is counted from when the first was sent, as
-- GitHub sees them arrive (the next still waits for the answer: one at a time).
ALTER TABLE gh_write_log ADD COLUMN sent_at INTEGER;
