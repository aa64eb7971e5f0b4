-- Why task $1's issue left the pool while someone held it ($2), or none.
UPDATE gh_tasks SET left_pool = $2 WHERE task_id = $1
