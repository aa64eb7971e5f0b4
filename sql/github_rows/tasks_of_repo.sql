-- The GitHub side of the tasks of repository $1, by issue number.
SELECT task_id AS "task_id!", repo AS "repo!", issue_number AS "issue_number!: i64",
    label_warnings AS "label_warnings!", left_pool AS "left_pool?",
    status_comment_id AS "status_comment_id?: i64", status_body AS "status_body?"
FROM gh_tasks
WHERE repo = $1
ORDER BY issue_number
