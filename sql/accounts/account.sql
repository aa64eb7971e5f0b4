-- What is known of the GitHub account $1: when it was created (ms; none when GitHub did not
-- say) and when GitHub was last asked (ms).
SELECT created_at AS "created_at?: i64", read_at AS "read_at!: i64"
FROM gh_accounts
WHERE account_id = $1
