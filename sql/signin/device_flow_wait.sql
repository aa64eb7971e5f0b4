-- The live, unused device flow of digest $1 at $2 (ms): its last poll and its interval (ms).
SELECT polled_at AS "polled_at?: i64", interval_ms AS "interval_ms!: i64"
FROM signin_flows
WHERE digest = $1 AND kind = 'device' AND used_at IS NULL AND expires_at > $2
