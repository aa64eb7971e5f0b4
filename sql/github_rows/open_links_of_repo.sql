-- The open pull requests linked to the tasks of repository $1, acting or only recorded, by
-- number.
SELECT l.repo AS "repo!", l.pr_number AS "pr_number!: i64", l.task_id AS "task_id!",
    l.pr_url AS "pr_url!", l.author AS "author!", l.author_id AS "author_id?: i64",
    l.state AS "state!", l.draft AS "draft!: i64", l.acting AS "acting!: i64"
FROM gh_linked_prs l
JOIN gh_tasks g ON g.task_id = l.task_id
WHERE g.repo = $1 AND l.state = 'open'
ORDER BY l.pr_number
