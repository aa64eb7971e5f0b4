-- Worker $1's link: the account (none: made before ids were kept) and the login it was made for.
SELECT account_id AS "account_id?: i64", login AS "login!" FROM gh_links WHERE worker_id = $1
