-- How many proposals of repository $1 are open at $2 (ms).
SELECT COUNT(*) AS "open!: i64"
FROM proposals p JOIN tasks t ON t.seq = p.task_seq
WHERE t.repo_id = $1 AND p.state = 'open' AND p.expires_at > $2
