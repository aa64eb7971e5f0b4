-- GitHub's numeric ids as the identity of repositories (SQLite). The same for the
-- other backend in migrations/postgres.
--
-- A repository keeps its id when it is renamed or transferred, and so does the pool: a repository
-- listed under a new name with a known id is the same repository, renamed in place (its tasks,
-- claims, budget and status comments stay), never a new one beside an old one that leaves.

-- Before this, a renamed repository could be recorded twice (the old name left, the new one
-- joined) with the same id: the newest record keeps the id, the older ones forget it.
UPDATE gh_repos SET github_id = NULL
 WHERE github_id IS NOT NULL
   AND EXISTS (SELECT 1 FROM gh_repos n
                WHERE n.github_id = gh_repos.github_id
                  AND (n.joined_at > gh_repos.joined_at
                       OR (n.joined_at = gh_repos.joined_at AND n.repo > gh_repos.repo)));

CREATE UNIQUE INDEX gh_repos_github_id ON gh_repos (github_id) WHERE github_id IS NOT NULL;

