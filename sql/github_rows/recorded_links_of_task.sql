-- The open pull requests that link task $1 but do not act on it (recorded for maintainers), at
-- most 50, by number.
SELECT repo AS "repo!", pr_number AS "pr_number!: i64", task_id AS "task_id!", pr_url AS "pr_url!",
    author AS "author!", author_id AS "author_id?: i64", state AS "state!", draft AS "draft!: i64",
    acting AS "acting!: i64"
FROM gh_linked_prs
WHERE task_id = $1 AND state = 'open' AND acting = 0
ORDER BY pr_number
LIMIT 50
