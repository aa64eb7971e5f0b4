-- Locks worker $1's row until commit.
SELECT id FROM workers WHERE id = $1 FOR UPDATE
