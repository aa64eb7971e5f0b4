-- Forgets GitHub's answers kept since before $1 (ms).
DELETE FROM gh_etags WHERE updated_at < $1
