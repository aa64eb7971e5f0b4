-- Repository $1 (its id) changes at $7 (ms): its review budget $2, area locks $3, visibility $4
-- pinned $5, extensions $6 (JSON), what GitHub said of it $9 (kept when none); with $8 it
-- leaves the archive.
UPDATE repos SET max_open_prs = $2, area_locks_enabled = $3, private = $4,
    visibility_pinned = $5, extensions = $6, updated_at = $7,
    archived_at = CASE WHEN $8 THEN NULL ELSE archived_at END,
    archived_by = CASE WHEN $8 THEN NULL ELSE archived_by END,
    github_private = COALESCE($9, github_private)
WHERE id = $1
