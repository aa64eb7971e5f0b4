-- Repository $1's contract $2 (JSON; none: no contract).
UPDATE repos SET contract = $2 WHERE name = $1
