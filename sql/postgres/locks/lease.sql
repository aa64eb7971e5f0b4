-- Locks lease $1's row until commit.
SELECT id FROM leases WHERE id = $1 FOR UPDATE
