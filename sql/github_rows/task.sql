-- The GitHub side of task $1.
SELECT task_id AS "task_id!", repo AS "repo!", issue_number AS "issue_number!: i64",
    label_warnings AS "label_warnings!", left_pool AS "left_pool?",
    status_comment_id AS "status_comment_id?: i64", status_body AS "status_body?"
FROM gh_tasks
WHERE task_id = $1
