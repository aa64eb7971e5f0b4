-- The GitHub side of task $1, made from issue $3 of repository $2, with the label warnings $4
-- (a JSON array) its status comment shows.
INSERT INTO gh_tasks (task_id, repo, issue_number, label_warnings) VALUES ($1, $2, $3, $4)
ON CONFLICT (task_id) DO UPDATE SET label_warnings = excluded.label_warnings
