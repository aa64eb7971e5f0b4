-- The account id and the login shown of the reviewer of task $1 (by seq) while its review is open
-- (the task is pr_opened): the login GitHub last gave for the account, else as it was recorded.
SELECT tr.reviewer_id AS "reviewer_id?: i64",
    COALESCE(rv.account_login, rv.login, tr.reviewer) AS "login!"
FROM task_reviews tr
JOIN tasks t ON t.seq = tr.task_seq
LEFT JOIN repo_reviewers rv ON rv.repo_id = tr.repo_id AND rv.account_id = tr.reviewer_id
WHERE tr.task_seq = $1 AND t.status = 'pr_opened'
