-- Forgets what GitHub said login $1 (any case) may do.
DELETE FROM signin_permissions WHERE LOWER(login) = LOWER($1)
