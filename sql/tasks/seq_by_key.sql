-- The seq of repository $1's (its id) task with key $2, if any.
SELECT seq AS "seq!: i64" FROM tasks WHERE repo_id = $1 AND key = $2
