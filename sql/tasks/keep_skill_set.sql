-- The skill set $1 (canonical: lower-case, sorted, comma-separated), made if new.
INSERT INTO skill_sets (skills) VALUES ($1) ON CONFLICT (skills) DO NOTHING
