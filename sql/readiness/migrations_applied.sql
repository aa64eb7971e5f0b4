-- The migrations applied: a query of the schema, which `/readyz` asks of the database.
SELECT COUNT(*) AS "migrations!: i64" FROM _sqlx_migrations
