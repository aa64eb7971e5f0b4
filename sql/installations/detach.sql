-- The App left repository $1 at $2 (ms).
UPDATE gh_repos SET installation_id = NULL, left_at = $2 WHERE repo = $1
