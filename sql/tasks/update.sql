-- Task $1 imported again at $9 (ms): its title $2, description $3, estimate $4 (points),
-- priority $5 (0 low to 3 critical), skills $6 (a skill set's id), area $7, tier $8,
-- extensions $10 and requirements $11 (JSON). A task in flight keeps its lock on its area.
UPDATE tasks SET title = $2, description = $3, estimate_points = $4, priority = $5,
    skill_set_id = $6, area = $7, tier = $8, extensions = $10,
    area_lock = CASE WHEN area_lock IS NULL THEN NULL ELSE $7 END,
    updated_at = $9, requires = $11
WHERE id = $1
