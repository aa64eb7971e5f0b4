-- Asks for the status comment of task $5 on issue $4 of repository $3 (installation $2),
-- written from $7 (ms), asked at $6: a new row of uid $1, or the pending one of the task
-- (`status:` and its id, $8) with its revision one up.
INSERT INTO gh_outbox (uid, installation_id, repo, issue_number, kind, task_id, body,
    coalesce_key, revision, state, attempts, next_attempt_at, created_at)
VALUES ($1, $2, $3, $4, 'status', $5, '', $8, 1, 'pending', 0, $7, $6)
ON CONFLICT (coalesce_key) WHERE state = 'pending' AND coalesce_key IS NOT NULL
DO UPDATE SET revision = gh_outbox.revision + 1
