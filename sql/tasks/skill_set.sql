-- The id of skill set $1.
SELECT id AS "id!: i64" FROM skill_sets WHERE skills = $1
