-- Repository $1's `vouch.trust` ($2) and `vouch.required` ($3: 1 or 0).
UPDATE repos SET vouch_trust = $2, vouch_required = $3 WHERE name = $1
