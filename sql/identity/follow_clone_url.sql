-- Repository $1's clone URL becomes $3 where it was the default of its former name, $2.
UPDATE repos SET clone_url = $3 WHERE name = $1 AND clone_url = $2
