-- What GitHub said of pull request $2 of repository $1 at $3 (ms) or later, if anything.
SELECT state AS "state!", author_id AS "author_id?: i64", author AS "author?",
    read_at AS "read_at!: i64"
FROM gh_pr_facts
WHERE repo = $1 AND number = $2 AND read_at >= $3
