-- The tasks pull request $2 of repository $1 is linked to, by task id.
SELECT repo AS "repo!", pr_number AS "pr_number!: i64", task_id AS "task_id!", pr_url AS "pr_url!",
    author AS "author!", author_id AS "author_id?: i64", state AS "state!", draft AS "draft!: i64",
    acting AS "acting!: i64"
FROM gh_linked_prs
WHERE repo = $1 AND pr_number = $2
ORDER BY task_id
