-- Task $1 is made from issue $3 of repository $2 from now on.
UPDATE gh_tasks SET repo = $2, issue_number = $3 WHERE task_id = $1
