-- A row when the sweep of proposals has work at $1 (ms): a proposal whose end is not recorded
-- yet, or an open one expired.
SELECT CAST(1 AS BIGINT) AS "due!: i64" FROM proposals WHERE recorded = 0
UNION ALL
SELECT CAST(1 AS BIGINT) AS "due!: i64" FROM proposals WHERE state = 'open' AND expires_at <= $1
LIMIT 1
