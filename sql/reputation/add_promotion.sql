-- Repository $1 (its id) promotes to trust level $2 after $3 merged pull requests.
INSERT INTO repo_promotions (repo_id, level, merged) VALUES ($1, $2, $3)
