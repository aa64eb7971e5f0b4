-- Proposal $1 is open again (an approval that could not give its lease put it back).
UPDATE proposals SET state = 'open', ended_at = NULL WHERE id = $1
