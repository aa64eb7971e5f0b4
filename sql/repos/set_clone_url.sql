-- Repository $1 is cloned from $2 (none: the default of its kind).
UPDATE repos SET clone_url = $2 WHERE name = $1
