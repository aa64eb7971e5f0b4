-- GitHub's remembered answers, newest first, at most $1.
SELECT path AS "path!", etag AS "etag!", body AS "body!", next_page AS "next_page?"
FROM gh_etags
ORDER BY updated_at DESC
LIMIT $1
