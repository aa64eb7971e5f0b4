-- Repository $1 (its id) has $2 reviewers.
UPDATE repos SET reviewers = $2 WHERE id = $1
