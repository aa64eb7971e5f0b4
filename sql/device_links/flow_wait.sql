-- Worker $2's live, unused flow of digest $1 at $3 (ms): its last poll and its interval (ms).
SELECT polled_at AS "polled_at?: i64", interval_ms AS "interval_ms!: i64"
FROM worker_link_flows
WHERE digest = $1 AND worker_id = $2 AND used_at IS NULL AND expires_at > $3
