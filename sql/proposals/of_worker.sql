-- The proposals of worker $1, the 100 newest, oldest first, each with its task's key and title,
-- and how it ended.
SELECT x.id AS "id!", x.task_id AS "task_id!", x.task_seq AS "task_seq!: i64",
    x.repo_id AS "repo_id!: i64", x.repo AS "repo!", x.worker_id AS "worker_id!",
    x.worker_name AS "worker_name!", x.login AS "login?", x.plan AS "plan!", x.state AS "state!",
    x.created_at AS "created_at!: i64", x.expires_at AS "expires_at!: i64",
    x.task_key AS "task_key?", x.task_title AS "task_title!", x.reason AS "reason?",
    x.ended_at AS "ended_at?: i64"
FROM (
    SELECT p.seq, p.id, t.id AS task_id, p.task_seq, t.repo_id, r.name AS repo, p.worker_id,
        wn.name AS worker_name, p.login, p.plan, p.state, p.created_at, p.expires_at,
        t.key AS task_key, t.title AS task_title, p.reason, p.ended_at
    FROM proposals p JOIN tasks t ON t.seq = p.task_seq JOIN repos r ON r.id = t.repo_id
        JOIN workers wn ON wn.id = p.worker_id
    WHERE p.worker_id = $1
    ORDER BY p.seq DESC
    LIMIT 100
) x
ORDER BY x.seq
