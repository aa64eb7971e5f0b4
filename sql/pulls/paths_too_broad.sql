-- Whether the files of pull request $2 of repository $1, linked to task $3, are too broad to
-- lock ($4: 1 or 0).
UPDATE gh_linked_prs SET paths_too_broad = $4
WHERE repo = $1 AND pr_number = $2 AND task_id = $3 AND paths_too_broad <> $4
