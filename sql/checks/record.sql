-- Check $3 of commit $2 of repository $1 is in state $4 at $5 (ms): its latest state wins.
INSERT INTO gh_commit_checks (repo, sha, check_key, state, updated_at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (repo, sha, check_key) DO UPDATE SET state = $4, updated_at = $5
