-- A poll of worker $2's live, unused flow of digest $1 at $3 (ms), when its interval has
-- passed since the last one (which this one now is): its digest, or no row.
UPDATE worker_link_flows SET polled_at = $3
WHERE digest = $1 AND worker_id = $2 AND used_at IS NULL AND expires_at > $3
    AND (polled_at IS NULL OR polled_at + interval_ms <= $3)
RETURNING digest AS "digest!"
