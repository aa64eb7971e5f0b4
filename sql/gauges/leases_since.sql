-- Leases granted at or after $1 (ms), and how many of them expired or were given back.
SELECT
    COUNT(*) AS "leases!: i64",
    CAST(COALESCE(SUM(CASE WHEN outcome IN ('expired', 'nacked') THEN 1 ELSE 0 END), 0) AS BIGINT)
        AS "requeued!: i64"
FROM leases
WHERE created_at >= $1
