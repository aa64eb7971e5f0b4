-- Pull request $2 of repository $1 has head commit $3.
UPDATE gh_linked_prs SET head_sha = $3 WHERE repo = $1 AND pr_number = $2
