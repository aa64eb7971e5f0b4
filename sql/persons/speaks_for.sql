-- Worker $1 speaks for account $2, named $3.
UPDATE workers SET github_login = $3, github_account_id = $2 WHERE id = $1
