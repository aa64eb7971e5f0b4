-- Pull request $2 of repository $1 links task $3: its address $4, author $5 (GitHub's account
-- $10), state $6, draft $7 (1) and whether it acts on the task $8 (1), as seen at $9 (ms).
INSERT INTO gh_linked_prs (repo, pr_number, task_id, pr_url, author, state, draft, acting,
    updated_at, author_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (repo, pr_number, task_id) DO UPDATE SET pr_url = excluded.pr_url,
    author = excluded.author, state = excluded.state, draft = excluded.draft,
    acting = excluded.acting, updated_at = excluded.updated_at, author_id = excluded.author_id
