-- Repository $1's live figures: $2 open pull requests, $3 active leases.
UPDATE repos SET open_prs = $2, active_leases = $3 WHERE name = $1
