-- Forgets installation $1.
DELETE FROM gh_installations WHERE id = $1
