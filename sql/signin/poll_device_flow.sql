-- A poll of the live, unused device flow of digest $1 at $2 (ms), when its interval has passed
-- since the last one (which this one now is): its digest, or no row.
UPDATE signin_flows SET polled_at = $2
WHERE digest = $1 AND kind = 'device' AND used_at IS NULL AND expires_at > $2
    AND (polled_at IS NULL OR polled_at + interval_ms <= $2)
RETURNING digest AS "digest!"
