-- The pending rows about issue $2 of repository $1 go to issue $4 of repository $3, through
-- the installation that serves it.
UPDATE gh_outbox SET repo = $3, issue_number = $4,
    installation_id = COALESCE(
        (SELECT installation_id FROM gh_repos WHERE repo = $3), installation_id)
WHERE repo = $1 AND issue_number = $2 AND state = 'pending'
