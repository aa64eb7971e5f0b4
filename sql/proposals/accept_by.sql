-- Lease $2, given by an approval, is to be acknowledged by $1 (ms), and lives at least as long:
-- when it expires.
UPDATE leases SET accept_by = $1, deadline = $1,
    expires_at = CASE WHEN expires_at < $1 THEN $1 ELSE expires_at END
WHERE id = $2
RETURNING expires_at AS "expires_at!: i64"
