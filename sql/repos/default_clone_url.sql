-- Repository $1 is cloned from $2 unless it has a clone URL already.
UPDATE repos SET clone_url = $2 WHERE name = $1 AND clone_url IS NULL
