-- The device flow of digest $1 polls no sooner than every $2 ms from now on.
UPDATE signin_flows SET interval_ms = $2 WHERE digest = $1 AND kind = 'device'
