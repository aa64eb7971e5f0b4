-- The proposals of repository $1 open at $2 (ms), oldest first, at most $3, each with its task's
-- key and title.
SELECT p.id AS "id!", t.id AS "task_id!", p.task_seq AS "task_seq!: i64",
    t.repo_id AS "repo_id!: i64", r.name AS "repo!", p.worker_id AS "worker_id!",
    wn.name AS "worker_name!", p.login AS "login?", p.plan AS "plan!", p.state AS "state!",
    p.created_at AS "created_at!: i64", p.expires_at AS "expires_at!: i64",
    t.key AS "task_key?", t.title AS "task_title!"
FROM proposals p JOIN tasks t ON t.seq = p.task_seq JOIN repos r ON r.id = t.repo_id
JOIN workers wn ON wn.id = p.worker_id
WHERE t.repo_id = $1 AND p.state = 'open' AND p.expires_at > $2
ORDER BY p.seq
LIMIT $3
