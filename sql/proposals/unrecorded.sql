-- Proposals whose end has no audit event yet (a trigger ended them), oldest first, 200 at most.
SELECT p.id AS "id!", t.id AS "task_id!", p.task_seq AS "task_seq!: i64",
    t.repo_id AS "repo_id!: i64", r.name AS "repo!", p.worker_id AS "worker_id!",
    wn.name AS "worker_name!", p.login AS "login?", p.plan AS "plan!", p.state AS "state!",
    p.created_at AS "created_at!: i64", p.expires_at AS "expires_at!: i64"
FROM proposals p JOIN tasks t ON t.seq = p.task_seq JOIN repos r ON r.id = t.repo_id
JOIN workers wn ON wn.id = p.worker_id
WHERE p.recorded = 0
ORDER BY p.seq
LIMIT 200
