-- Task $1 as a proposal sees it: its seq, its status and its repository's `approval`.
SELECT t.seq AS "seq!: i64", t.status AS "status!", r.approval AS "approval!"
FROM tasks t
JOIN repos r ON r.id = t.repo_id
WHERE t.id = $1
