-- What list $2 of repository $1 (its id) last was: the digest of its entries and its error.
SELECT digest AS "digest?", error AS "error?"
FROM vouch_lists
WHERE repo_id = $1 AND origin = $2
