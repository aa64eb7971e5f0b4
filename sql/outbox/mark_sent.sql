-- Row $1, claimed by runner $2 at revision $3, sent at $4 (ms) as GitHub's $5: a status row
-- whose task changed since its claim is not marked.
UPDATE gh_outbox SET state = 'sent', sent_at = $4, github_id = $5, last_error = NULL,
    claimed_by = NULL, claimed_until = NULL
WHERE id = $1 AND claimed_by = $2 AND revision = $3
