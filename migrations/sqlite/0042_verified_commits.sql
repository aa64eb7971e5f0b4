-- A repository's verified-commits policy (contract section 12, "Work that shows its proof"), kept
-- beside its other claim settings so that a task's holder reads it with the task
-- (`policy.verified_commits`, `policy.verified_commits_below_trust`). Written with the rest of
-- `.github/owp.yml`; the settings already recorded are read into it once here.
ALTER TABLE repos ADD COLUMN verified_commits TEXT NOT NULL DEFAULT 'optional'
    CHECK (verified_commits IN ('optional', 'required'));
ALTER TABLE repos ADD COLUMN verified_commits_below_trust INTEGER
    CHECK (verified_commits_below_trust BETWEEN 0 AND 3);

UPDATE repos SET
    verified_commits = CASE WHEN g.config LIKE '%"verified_commits":"required"%'
        THEN 'required' ELSE 'optional' END,
    verified_commits_below_trust = CASE
        WHEN g.config LIKE '%"verified_commits_below_trust":0%' THEN 0
        WHEN g.config LIKE '%"verified_commits_below_trust":1%' THEN 1
        WHEN g.config LIKE '%"verified_commits_below_trust":2%' THEN 2
        WHEN g.config LIKE '%"verified_commits_below_trust":3%' THEN 3 END
FROM gh_repos g WHERE g.repo = repos.name AND g.config IS NOT NULL;
