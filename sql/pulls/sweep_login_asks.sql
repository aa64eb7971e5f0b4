-- Forgets what GitHub said of logins before $1 (ms).
DELETE FROM gh_login_asks WHERE asked_at < $1
