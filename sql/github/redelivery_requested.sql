-- How many times the App asked GitHub to redeliver $1 (0 or 1).
SELECT COUNT(*) AS "n!: i64" FROM gh_redeliveries WHERE guid = $1
