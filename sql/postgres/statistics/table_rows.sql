-- The rows table $1 held at its last analysis, as PostgreSQL's statistics say (-1 before the
-- first).
SELECT reltuples::float8 AS "rows!"
FROM pg_class
WHERE relname = $1
