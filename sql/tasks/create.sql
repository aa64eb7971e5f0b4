-- Task $1 of repository $2 (its id), key $3, made ready at $12 (ms): its title $4, description
-- $5, estimate $6 (points), priority $7, skills $8 (a skill set's id), area $9, tier $10,
-- extensions $11 and requirements $13 (JSON).
INSERT INTO tasks (id, repo_id, key, title, description, estimate_points, priority,
    skill_set_id, area, tier, status, extensions, created_at, updated_at, requires)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'ready', $11, $12, $12, $13)
