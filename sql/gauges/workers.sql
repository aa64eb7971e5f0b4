-- The workers: how many, how many were seen after $1 (ms), their capacity and their active
-- points. Each value summed is capped to [0, 2^32], so that no stored value (a capacity of
-- i64::MAX registered before inputs were bounded) makes a sum overflow and the scrape fail.
SELECT
    COUNT(*) AS "workers!: i64",
    CAST(COALESCE(SUM(CASE WHEN last_seen_at > $1 THEN 1 ELSE 0 END), 0) AS BIGINT)
        AS "online!: i64",
    CAST(COALESCE(SUM(CASE WHEN last_seen_at > $1 THEN
        (CASE WHEN capacity_points > 4294967296 THEN 4294967296
              WHEN capacity_points < 0 THEN 0
              ELSE capacity_points END)
        ELSE 0 END), 0) AS BIGINT) AS "capacity_online!: i64",
    CAST(COALESCE(SUM(
        CASE WHEN active_points > 4294967296 THEN 4294967296
             WHEN active_points < 0 THEN 0
             ELSE active_points END), 0) AS BIGINT) AS "active_points!: i64"
FROM workers
