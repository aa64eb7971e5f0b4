-- Drops the pending rows of repository $1: the App left it.
UPDATE gh_outbox SET state = 'dropped', last_error = 'the App left the repository',
    claimed_by = NULL, claimed_until = NULL
WHERE repo = $1 AND state = 'pending'
