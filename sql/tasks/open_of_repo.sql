-- The tasks of repository $1 nobody works on yet (ready or blocked), oldest first.
SELECT id AS "id!" FROM tasks WHERE repo_id = $1 AND status IN ('ready', 'blocked') ORDER BY seq
