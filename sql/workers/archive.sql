-- Worker $3 is archived at $1 (ms): paused, its token replaced by digest $2 of one nobody is
-- given.
UPDATE workers SET archived_at = $1, status = 'paused', token_hash = $2 WHERE id = $3
