-- Empties the sign-in list of login $1 (lower-case).
DELETE FROM signin_repos WHERE login = $1
