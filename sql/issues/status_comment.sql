-- Task $1's status comment is GitHub's $2, last written with $3.
UPDATE gh_tasks SET status_comment_id = $2, status_body = $3 WHERE task_id = $1
