-- The App's record of repository $1 forgets its GitHub id (another record has it now).
UPDATE gh_repos SET github_id = NULL WHERE repo = $1
