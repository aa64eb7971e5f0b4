-- Secondary rate limits that GitHub answered without `Retry-After` in a row for an installation:
-- the pause doubles with each (one minute, two, four, … up to half an hour) and starts again at one
-- minute once an hour has passed since the installation was last paused.
ALTER TABLE gh_installations ADD COLUMN limit_streak BIGINT NOT NULL DEFAULT 0;
