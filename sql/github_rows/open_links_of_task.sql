-- The open pull requests linked to task $1 that act on it (not those only recorded), oldest
-- change first (index `gh_linked_prs_task`).
SELECT repo AS "repo!", pr_number AS "pr_number!: i64", task_id AS "task_id!", pr_url AS "pr_url!",
    author AS "author!", author_id AS "author_id?: i64", state AS "state!", draft AS "draft!: i64",
    acting AS "acting!: i64"
FROM gh_linked_prs
WHERE task_id = $1 AND state = 'open' AND acting = 1
ORDER BY updated_at
