-- List $2 of repository $1 (its id), which GitHub never answered for.
INSERT INTO vouch_lists (repo_id, origin, path, error, read_at) VALUES ($1, $2, NULL, NULL, NULL)
