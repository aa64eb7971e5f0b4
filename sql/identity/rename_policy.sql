-- The pool's repository $1 is named $2 from $3 (ms) on.
UPDATE repos SET name = $2, updated_at = $3 WHERE name = $1
