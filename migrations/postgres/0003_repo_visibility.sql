-- Who may read a repository's board (PostgreSQL). Kept in step with migrations/sqlite.
--
-- `private` is 1 unless the repository is known to be public: GitHub says so in its webhook and
-- installation payloads (`repository.private`), or an admin sets `visibility: public`. Only
-- public repositories ever appear on the dashboard's public board (`OWP_PUBLIC_BOARDS`), so an
-- unknown repository stays private: the safe direction. (BIGINT like every 0/1 flag here, so
-- both backends decode it the same way.)
ALTER TABLE repos ADD COLUMN private BIGINT NOT NULL DEFAULT 1;
