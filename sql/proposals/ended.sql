-- Proposal $1 as its proposer is told of its end: the login, state and reason, and the
-- worker's id, name and whether it is a person's implicit worker (every skill).
SELECT p.login AS "login?", p.state AS "state!", p.reason AS "reason?", w.id AS "worker_id!",
    w.name AS "name!", w.all_skills AS "all_skills!: i64"
FROM proposals p
JOIN workers w ON w.id = p.worker_id
WHERE p.id = $1
