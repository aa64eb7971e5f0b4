-- Repository $2 on the sign-in list of login $1 (lower-case), with permission $3, at $4 (ms).
INSERT INTO signin_repos (login, repo, permission, listed_at) VALUES ($1, $2, $3, $4)
