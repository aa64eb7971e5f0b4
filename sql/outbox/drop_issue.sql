-- Drops the pending rows about issue $2 of repository $1: the issue is gone.
UPDATE gh_outbox SET state = 'dropped', last_error = 'the issue is gone',
    claimed_by = NULL, claimed_until = NULL
WHERE repo = $1 AND issue_number = $2 AND state = 'pending'
