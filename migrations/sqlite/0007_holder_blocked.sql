-- A task its holder reported `blocked` waits for a maintainer: until an admin or a maintainer
-- moves it on, it takes one slot of its repository's review budget (counted in `repos.open_prs`,
-- like an open pull request). 1 while it does, else 0.
ALTER TABLE tasks ADD COLUMN awaits_maintainer INTEGER NOT NULL DEFAULT 0;
