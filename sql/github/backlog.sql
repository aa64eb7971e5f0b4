-- Pending deliveries and pending outbox rows.
SELECT (SELECT COUNT(*) FROM gh_deliveries WHERE state = 'pending') AS "deliveries!: i64",
    (SELECT COUNT(*) FROM gh_outbox WHERE state = 'pending') AS "outbox!: i64"
