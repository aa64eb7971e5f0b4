-- GitHub's answer to path $1 at $5 (ms): its ETag $2, its body $3 and its next page $4.
INSERT INTO gh_etags (path, etag, body, next_page, updated_at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (path) DO UPDATE SET etag = excluded.etag, body = excluded.body,
    next_page = excluded.next_page, updated_at = excluded.updated_at
