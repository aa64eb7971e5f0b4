-- Repository $1's settings from its `.github/owp.yml`, as every claim path reads them: the
-- hourly claim cap $2, the contract $3 (JSON), the youngest account that may claim $4 (days),
-- the first-timers label $5, the cool-down $6 (hours), verified commits $7 (below trust $8),
-- the claims one person may hold $9 and the allowlist $10 (logins joined by commas).
UPDATE repos SET claims_per_hour = $2, contract = $3, min_account_age_days = $4,
    first_timers_label = $5, cooldown_hours = $6, verified_commits = $7,
    verified_commits_below_trust = $8, max_claims_per_user = $9, claim_allowlist = $10
WHERE name = $1
