-- Installation $1 was limited by GitHub: no request of it before $2 (ms), the $3rd limit in a
-- row.
UPDATE gh_installations SET blocked_until = $2, limit_streak = $3 WHERE id = $1
