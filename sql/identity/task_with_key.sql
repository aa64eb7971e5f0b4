-- The task of repository $1 (its id) with key $2, if there is one.
SELECT id AS "id!" FROM tasks WHERE repo_id = $1 AND key = $2
