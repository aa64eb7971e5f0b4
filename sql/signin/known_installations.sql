-- The installations of the App that this service knows, by id.
SELECT id AS "id!: i64" FROM gh_installations ORDER BY id
