-- The pending rows of repository $1 go through installation $2.
UPDATE gh_outbox SET installation_id = $2
WHERE repo = $1 AND state = 'pending' AND installation_id <> $2
