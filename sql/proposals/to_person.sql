-- The open proposals of worker $3 become person $1's, whose login is $2.
UPDATE proposals SET proposer = $1, login = $2 WHERE worker_id = $3 AND state = 'open'
