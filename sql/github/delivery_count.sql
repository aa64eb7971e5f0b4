-- How many deliveries the inbox holds, in any state.
SELECT COUNT(*) AS "n!: i64" FROM gh_deliveries
