-- The webhook's inbox and the comment sender's outbox, where the rows PostgreSQL counted as
-- changed since the table's last analysis (by any process) are at least $1 and at least a tenth
-- of the rows its statistics describe: the tables to analyze now.
SELECT s.relname::text AS "table!"
FROM pg_stat_user_tables s
JOIN pg_class c ON c.oid = s.relid
WHERE s.schemaname = current_schema()
    AND s.relname IN ('gh_deliveries', 'gh_outbox')
    AND s.n_mod_since_analyze >= $1
    AND s.n_mod_since_analyze * 10 >= GREATEST(c.reltuples, 0)
