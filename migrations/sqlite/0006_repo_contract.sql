-- A repository's contract (how work in it is done: set-up, test and lint commands, branch name,
-- pull request template, instructions; JSON, NULL = none) and where its code is cloned from
-- (NULL = unknown). Both travel with every lease of the repository's tasks.
ALTER TABLE repos ADD COLUMN contract TEXT;
ALTER TABLE repos ADD COLUMN clone_url TEXT;
-- Repositories the GitHub App already serves clone from GitHub.
UPDATE repos SET clone_url = 'https://github.com/' || name || '.git'
 WHERE clone_url IS NULL AND name IN (SELECT repo FROM gh_repos);
