-- How many deliveries of id $1 the inbox holds (0 or 1).
SELECT COUNT(*) AS "n!: i64" FROM gh_deliveries WHERE delivery_id = $1
