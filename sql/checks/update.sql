-- Check $3 of commit $2 of repository $1, if kept, is in state $4 at $5 (ms).
UPDATE gh_commit_checks SET state = $4, updated_at = $5
WHERE repo = $1 AND sha = $2 AND check_key = $3
