-- Person $1's record shows login $2.
UPDATE persons SET login = $2 WHERE account_id = $1 AND login <> $2
