-- The task of repository $1 (its id) with key $2, if any: its id and its extensions (JSON).
SELECT id AS "id!", extensions AS "extensions!" FROM tasks WHERE repo_id = $1 AND key = $2
