-- Repository $1 is closed to all but maintainers while a list it reads was never read or is
-- not valid.
UPDATE repos SET vouch_closed = CASE WHEN EXISTS (
        SELECT 1 FROM vouch_lists l
        WHERE l.repo_id = repos.id AND (l.read_at IS NULL OR l.error IS NOT NULL))
    THEN 1 ELSE 0 END
WHERE name = $1
