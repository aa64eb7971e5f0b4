-- (PostgreSQL; the same for the other backend in migrations/sqlite.)
-- What GitHub last answered to the App's conditional requests (a listing's page, a file), so
-- that a restarted process asks with `If-None-Match` at once and a `304 Not Modified`, which
-- does not count against the installation's rate limit, answers it. `path` is the request's
-- path and query (the cache key); `body` is the answer's text and `next_page` the link to its
-- next page. Times are milliseconds since the epoch; rows not refreshed for a week are dropped.
CREATE TABLE gh_etags (
    path       TEXT    PRIMARY KEY,
    etag       TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    next_page  TEXT,
    updated_at BIGINT  NOT NULL
);
