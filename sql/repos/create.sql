-- Repository $1 joins the pool at $8 (ms): its review budget $2 (open pull requests), area
-- locks $3 (1 or 0), its board's visibility $4 (1: private) pinned by a person $5 (1), what
-- GitHub said of it $6 (1: private; none: not asked) and its extensions $7 (JSON).
INSERT INTO repos (name, max_open_prs, area_locks_enabled, private, visibility_pinned,
    github_private, extensions, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
