-- Repository $1's (its id) board is private $2 (1), GitHub says private $3 (1), a person's
-- choice pinned $4 (1), at $5 (ms).
UPDATE repos SET private = $2, github_private = $3, visibility_pinned = $4, updated_at = $5
WHERE id = $1
