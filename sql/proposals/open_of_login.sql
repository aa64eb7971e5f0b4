-- The open proposal at $3 (ms) for task $1 of the person whose login is now $2 (lower case),
-- found by the person's account id: made by comment or through a worker linked to them.
SELECT p.id AS "id!", t.id AS "task_id!", p.task_seq AS "task_seq!: i64",
    t.repo_id AS "repo_id!: i64", r.name AS "repo!", p.worker_id AS "worker_id!",
    wn.name AS "worker_name!", p.login AS "login?", p.plan AS "plan!", p.state AS "state!",
    p.created_at AS "created_at!: i64", p.expires_at AS "expires_at!: i64"
FROM proposals p JOIN tasks t ON t.seq = p.task_seq JOIN repos r ON r.id = t.repo_id
JOIN workers wn ON wn.id = p.worker_id
JOIN workers pw ON pw.id = p.worker_id
WHERE t.id = $1 AND pw.github_account_id IS NOT NULL
    AND p.proposer = 'github:' || pw.github_account_id
    AND LOWER(pw.github_login) = $2 AND p.state = 'open' AND p.expires_at > $3
ORDER BY p.seq
LIMIT 1
