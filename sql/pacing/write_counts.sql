-- What installation $1's log says of its writes ($2 a minute ago, $3 an hour ago, ms): writes
-- in the last minute and the oldest of them, in the last hour and the oldest of them, the newest
-- (when GitHub answered it, or when it was reserved while none is answered), and until when one
-- is in flight.
SELECT COALESCE(SUM(CASE WHEN at > $2 THEN 1 ELSE 0 END), 0) AS "minute!: i64",
    MIN(CASE WHEN at > $2 THEN at END) AS "oldest_minute?: i64",
    COALESCE(SUM(CASE WHEN at > $3 THEN 1 ELSE 0 END), 0) AS "hour!: i64",
    MIN(CASE WHEN at > $3 THEN at END) AS "oldest_hour?: i64",
    MAX(at) AS "newest?: i64",
    MAX(in_flight_until) AS "in_flight?: i64"
FROM gh_write_log
WHERE installation_id = $1
