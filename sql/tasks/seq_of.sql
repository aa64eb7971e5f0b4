-- The seq of task $1.
SELECT seq AS "seq!: i64" FROM tasks WHERE id = $1
