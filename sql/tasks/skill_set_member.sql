-- Skill $2 is one of skill set $1's.
INSERT INTO skill_set_members (skill_set_id, skill) VALUES ($1, $2)
ON CONFLICT (skill_set_id, skill) DO NOTHING
