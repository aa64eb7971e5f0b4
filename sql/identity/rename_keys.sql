-- The keys of repository $4's GitHub tasks (`owner/name#N`) that begin with $6 (of $5
-- characters) begin with $1 instead, the part from character $2 on kept; changed at $3 (ms).
UPDATE tasks SET key = $1 || substr(key, $2), updated_at = $3
WHERE repo_id = (SELECT id FROM repos WHERE name = $4) AND substr(key, 1, $5) = $6
