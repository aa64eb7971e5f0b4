-- A row sent once (a comment or a reaction, kind $5) of uid $1 on issue $4 of repository $3
-- (installation $2), about task $6 or comment $7, with text $8, due at once from $9 (ms).
INSERT INTO gh_outbox (uid, installation_id, repo, issue_number, kind, task_id, comment_id,
    body, state, attempts, next_attempt_at, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', 0, $9, $9)
