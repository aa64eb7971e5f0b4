-- Who may read a repository's board (SQLite). The same column exists for PostgreSQL in
-- migrations/postgres.
--
-- `private` is 1 unless the repository is known to be public: GitHub says so in its webhook and
-- installation payloads (`repository.private`), or an admin sets `visibility: public`. Only
-- public repositories ever appear on the dashboard's public board (`OWP_PUBLIC_BOARDS`), so an
-- unknown repository stays private: the safe direction.
ALTER TABLE repos ADD COLUMN private INTEGER NOT NULL DEFAULT 1;
