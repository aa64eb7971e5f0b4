-- Repository $3 is archived at $1 (ms) by $2.
UPDATE repos SET archived_at = $1, archived_by = $2 WHERE id = $3
