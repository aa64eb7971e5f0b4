-- Proposal $1's end has its audit event.
UPDATE proposals SET recorded = 1 WHERE id = $1
