-- Repository $1 (its id) lists reviewer $3 (key $2), $4 at once, resolved to account $5.
INSERT INTO repo_reviewers (repo_id, login_key, login, capacity, account_id)
VALUES ($1, $2, $3, $4, $5)
