-- How many entries the merged vouch list of repository $1 has.
SELECT COUNT(*) AS "n!: i64" FROM vouch_entries WHERE repo_id = $1
