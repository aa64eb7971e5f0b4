-- Whether worker $1 is archived.
SELECT COUNT(*) AS "n!: i64" FROM workers WHERE id = $1 AND archived_at IS NOT NULL
