-- Task $1 moves to repository $2 (its id) under key $3, at $4 (ms); its area lock stays only
-- when nobody holds the same area there.
UPDATE tasks SET repo_id = $2, key = $3, updated_at = $4,
    area_lock = CASE WHEN area_lock IS NOT NULL AND EXISTS (
            SELECT 1 FROM tasks x WHERE x.repo_id = $2 AND x.area_lock = tasks.area_lock)
        THEN NULL ELSE area_lock END
WHERE id = $1
