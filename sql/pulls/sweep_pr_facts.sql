-- Forgets what GitHub said of pull requests before $1 (ms).
DELETE FROM gh_pr_facts WHERE read_at < $1
