-- The id of the repository named $1.
SELECT id AS "id!: i64" FROM repos WHERE name = $1
