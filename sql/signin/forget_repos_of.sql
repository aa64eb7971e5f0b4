-- Forgets the sign-in list of login $1 (any case).
DELETE FROM signin_repos WHERE LOWER(login) = LOWER($1)
