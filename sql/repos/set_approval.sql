-- Repository $1's plans first: approval $2, the trust that claims directly $3 (none: nobody),
-- the days a proposal stays open $4.
UPDATE repos SET approval = $2, approval_skip_trust = $3, proposal_days = $4 WHERE name = $1
